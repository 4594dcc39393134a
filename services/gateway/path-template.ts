// `google.api.http` path templates (https://github.com/googleapis/googleapis/blob/master/google/api/http.proto):
//   Template = "/" Segments [ Verb ] ;  Segment = "*" | "**" | LITERAL | Variable ;
//   Variable = "{" FieldPath [ "=" Segments ] "}" ;  Verb = ":" LITERAL
// A plain `{field}` is one segment; `{name=shelves/*/books/*}` captures several; `**` matches the rest of the
// path and may only come last.

type Segment = { kind: "literal"; value: string } | { kind: "any" } | { kind: "rest" };

interface Variable {
  fieldPath: string;
  /** Index of the first and one past the last segment it captures (end = -1: through the end of the path). */
  start: number;
  end: number;
}

export interface PathTemplate {
  template: string;
  segments: Segment[];
  variables: Variable[];
  verb?: string;
  /** Literal segments count: a more literal template wins over a more general one. */
  specificity: number;
}

/** Parses a template; throws on syntax the bridge cannot serve, naming the template. */
export function parsePathTemplate(template: string): PathTemplate {
  if (!template.startsWith("/")) throw new Error(`path template ${template} must start with /`);
  let body = template.slice(1);
  let verb: string | undefined;
  const lastSlash = body.lastIndexOf("/");
  const colon = body.indexOf(":", lastSlash + 1);
  if (colon >= 0 && !body.slice(colon).includes("}")) {
    verb = body.slice(colon + 1);
    body = body.slice(0, colon);
  }
  const segments: Segment[] = [];
  const variables: Variable[] = [];
  parseSegments(body, template, segments, variables);
  const restAt = segments.findIndex((s) => s.kind === "rest");
  if (restAt >= 0 && restAt !== segments.length - 1) throw new Error(`** must be the last segment of ${template}`);
  return {
    template,
    segments,
    variables,
    verb,
    specificity: segments.filter((s) => s.kind === "literal").length,
  };
}

function parseSegments(body: string, template: string, segments: Segment[], variables: Variable[]): void {
  let i = 0;
  const pushSegment = (text: string) => {
    if (text === "") throw new Error(`empty segment in path template ${template}`);
    segments.push(text === "**" ? { kind: "rest" } : text === "*" ? { kind: "any" } : { kind: "literal", value: text });
  };
  while (i < body.length) {
    if (body[i] === "{") {
      const close = body.indexOf("}", i);
      if (close < 0) throw new Error(`unclosed variable in path template ${template}`);
      const inner = body.slice(i + 1, close);
      const eq = inner.indexOf("=");
      const fieldPath = (eq < 0 ? inner : inner.slice(0, eq)).trim();
      const start = segments.length;
      if (eq < 0) segments.push({ kind: "any" });
      else for (const part of inner.slice(eq + 1).split("/")) pushSegment(part);
      variables.push({ fieldPath, start, end: segments.at(-1)?.kind === "rest" ? -1 : segments.length });
      i = close + 1;
      if (i < body.length && body[i] !== "/") throw new Error(`a variable must be a whole segment in ${template}`);
      i++;
      continue;
    }
    let j = body.indexOf("/", i);
    if (j < 0) j = body.length;
    pushSegment(body.slice(i, j));
    i = j + 1;
  }
}

/**
 * Matches a request path (still percent-encoded, without the query) against a template. Returns the variables'
 * values (decoded) by field path, or undefined when it does not match.
 */
export function matchPathTemplate(template: PathTemplate, pathname: string): Map<string, string> | undefined {
  return matchPathSegments(template, splitPath(pathname));
}

/** A request path's segments (still percent-encoded), split once per request for every template it is tried on. */
export function splitPath(pathname: string): string[] {
  const rest = pathname.startsWith("/") ? pathname.slice(1) : pathname;
  return rest === "" ? [] : rest.split("/");
}

/** matchPathTemplate on a path already split by splitPath. */
export function matchPathSegments(template: PathTemplate, pathParts: readonly string[]): Map<string, string> | undefined {
  let parts = pathParts;
  if (template.verb !== undefined) {
    const suffix = `:${template.verb}`;
    const last = parts.at(-1);
    if (last === undefined || !last.endsWith(suffix)) return undefined;
    parts = [...parts.slice(0, -1), last.slice(0, -suffix.length)];
  }
  const { segments } = template;
  const hasRest = segments.at(-1)?.kind === "rest";
  if (hasRest ? parts.length < segments.length - 1 : parts.length !== segments.length) return undefined;
  for (let k = 0; k < segments.length; k++) {
    const segment = segments[k]!;
    if (segment.kind === "rest") break;
    const part = parts[k]!;
    if (segment.kind === "literal" ? part !== segment.value : part === "") return undefined;
  }
  const values = new Map<string, string>();
  for (const variable of template.variables) {
    const captured = parts.slice(variable.start, variable.end === -1 ? undefined : variable.end);
    let decoded: string;
    try {
      // A single-segment variable decodes everything; a multi-segment one keeps its slashes as separators.
      decoded = captured.map((p) => decodeURIComponent(p)).join("/");
    } catch {
      return undefined;
    }
    values.set(variable.fieldPath, decoded);
  }
  return values;
}
