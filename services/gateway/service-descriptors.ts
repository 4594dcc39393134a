// What the bridge knows about the APIs it serves, read from the compiled contracts (`generated/tradeplane.binpb`, a
// FileDescriptorSet with source info) rather than written by hand: every service and method, their
// `google.api.http` bindings, the comments (for OpenAPI), and which request field resumes a stream. Adding an RPC
// to a .proto and regenerating is all it takes for the bridge, OpenAPI and the browser client to serve it.
import { readFileSync } from "node:fs";
import * as path from "node:path";
import {
  createFileRegistry,
  fromBinary,
  getExtension,
  hasExtension,
  type DescEnum,
  type DescExtension,
  type DescField,
  type DescMessage,
  type DescMethod,
  type DescService,
  type FileRegistry,
} from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

/** The descriptor set `npm run generate` writes; the same file server reflection serves. */
export const DEFAULT_DESCRIPTOR_SET = path.join(__dirname, "..", "..", "generated", "tradeplane.binpb");

export type MethodKind = "unary" | "server_streaming" | "client_streaming" | "bidi_streaming";

/** One `google.api.http` binding of a method (the main rule or an additional binding). */
export interface HttpBinding {
  /** Upper-case HTTP method: GET, POST, PUT, DELETE, PATCH or a custom verb. */
  verb: string;
  /** Path template, e.g. `/api/v1/quotes/{symbol}`. */
  template: string;
  /** Request field bound to the body: "" (no body), "*" (every field not in the path) or a field name. */
  body: string;
  /** Response field returned as the body; "" = the whole response. */
  responseBody: string;
}

/**
 * How a server stream resumes over HTTP: the request field `Last-Event-ID` fills in, and how to read the cursor of
 * a response frame (the SSE `id:`). Found by convention in the contracts: a `resume_token` request field pairs with
 * the frame's `resume_token`; a `since_seq` request field pairs with the `seq` of the frame's event.
 */
export interface StreamCursor {
  requestField: DescField;
  /** The cursor of one frame in its proto3 JSON form, or undefined for frames that do not advance the stream. */
  cursorOf(frame: unknown): string | undefined;
}

export interface BridgeMethod {
  service: DescService;
  descriptor: DescMethod;
  /** gRPC path, `/tradeplane.orders.v1.OrderService/SubmitOrder`; also the RPC-style HTTP path. */
  grpcPath: string;
  kind: MethodKind;
  input: DescMessage;
  output: DescMessage;
  /** `NO_SIDE_EFFECTS`, `IDEMPOTENT` or undefined. */
  idempotency: "NO_SIDE_EFFECTS" | "IDEMPOTENT" | undefined;
  bindings: HttpBinding[];
  cursor?: StreamCursor;
}

export interface ServiceDescriptors {
  registry: FileRegistry;
  services: DescService[];
  methods: BridgeMethod[];
  /** Leading comment of a message, field, enum, service or method, trimmed; "" when there is none. */
  commentOf(desc: DescMessage | DescField | DescEnum | DescService | DescMethod): string;
}

/** Reads the descriptor set and describes every service of the given packages (default: `tradeplane.*`). */
export function loadServiceDescriptors(file = DEFAULT_DESCRIPTOR_SET, packagePrefix = "tradeplane."): ServiceDescriptors {
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(file)));
  const httpExtension = registry.getExtension("google.api.http");
  const services: DescService[] = [];
  for (const fileDesc of registry.files) {
    if (!fileDesc.proto.package.startsWith(packagePrefix)) continue;
    services.push(...fileDesc.services);
  }
  services.sort((a, b) => a.typeName.localeCompare(b.typeName));
  const methods = services.flatMap((service) => service.methods.map((method) => describeMethod(service, method, httpExtension)));
  return { registry, services, methods, commentOf: commentLookup() };
}

const KIND: Record<DescMethod["methodKind"], MethodKind> = {
  unary: "unary",
  server_streaming: "server_streaming",
  client_streaming: "client_streaming",
  bidi_streaming: "bidi_streaming",
};

function describeMethod(service: DescService, method: DescMethod, httpExtension: DescExtension | undefined): BridgeMethod {
  // MethodOptions.IdempotencyLevel: 1 = NO_SIDE_EFFECTS, 2 = IDEMPOTENT.
  const idempotency = method.idempotency === 1 ? "NO_SIDE_EFFECTS" : method.idempotency === 2 ? "IDEMPOTENT" : undefined;
  const bridgeMethod: BridgeMethod = {
    service,
    descriptor: method,
    grpcPath: `/${service.typeName}/${method.name}`,
    kind: KIND[method.methodKind],
    input: method.input,
    output: method.output,
    idempotency,
    bindings: httpBindingsOf(method, httpExtension),
  };
  if (method.methodKind === "server_streaming") bridgeMethod.cursor = streamCursorOf(method.input, method.output);
  return bridgeMethod;
}

interface HttpRuleShape {
  pattern: { case: string | undefined; value?: unknown };
  body: string;
  responseBody: string;
  additionalBindings: HttpRuleShape[];
}

function httpBindingsOf(method: DescMethod, httpExtension: DescExtension | undefined): HttpBinding[] {
  const options = method.proto.options;
  if (httpExtension === undefined || options === undefined || !hasExtension(options, httpExtension)) return [];
  const rule = getExtension(options, httpExtension) as unknown as HttpRuleShape;
  const bindings: HttpBinding[] = [];
  for (const one of [rule, ...rule.additionalBindings]) {
    const { case: verb, value } = one.pattern;
    if (verb === undefined) continue;
    if (verb === "custom") {
      const custom = value as { kind: string; path: string };
      bindings.push({ verb: custom.kind.toUpperCase(), template: custom.path, body: one.body, responseBody: one.responseBody });
    } else {
      bindings.push({ verb: verb.toUpperCase(), template: String(value), body: one.body, responseBody: one.responseBody });
    }
  }
  return bindings;
}

function streamCursorOf(input: DescMessage, output: DescMessage): StreamCursor | undefined {
  const resumeToken = input.fields.find((f) => f.name === "resume_token" && f.fieldKind === "scalar");
  const frameToken = output.fields.find((f) => f.name === "resume_token" && f.fieldKind === "scalar");
  if (resumeToken !== undefined && frameToken !== undefined) {
    const key = frameToken.jsonName;
    return {
      requestField: resumeToken,
      cursorOf: (frame) => {
        const token = (frame as Record<string, unknown> | null)?.[key];
        return typeof token === "string" && token !== "" ? token : undefined;
      },
    };
  }
  const sinceSeq = input.fields.find((f) => f.name === "since_seq" && f.fieldKind === "scalar");
  if (sinceSeq !== undefined) {
    // The frame's event is the message-typed member (usually of a oneof) that has a `seq` field.
    const carriers = output.fields.flatMap((f) =>
      f.fieldKind === "message" && f.message.fields.some((g) => g.name === "seq") ? [{ jsonName: f.jsonName, message: f.message }] : [],
    );
    const topSeq = output.fields.find((f) => f.name === "seq");
    return {
      requestField: sinceSeq,
      cursorOf: (frame) => {
        const object = frame as Record<string, unknown> | null;
        if (object === null || typeof object !== "object") return undefined;
        if (topSeq !== undefined) return seqText(object[topSeq.jsonName]);
        for (const carrier of carriers) {
          const event = object[carrier.jsonName] as Record<string, unknown> | undefined | null;
          const seqField = carrier.message.fields.find((g) => g.name === "seq")!;
          if (event !== undefined && event !== null) return seqText(event[seqField.jsonName]);
        }
        return undefined;
      },
    };
  }
  return undefined;
}

function seqText(value: unknown): string | undefined {
  if (typeof value === "string" && value !== "" && value !== "0") return value;
  if (typeof value === "number" && value > 0) return String(value);
  return undefined;
}

/**
 * Comments come from the files' SourceCodeInfo, keyed by the element's path of field numbers in
 * FileDescriptorProto (message_type = 4, nested_type = 3, field = 2, enum_type = 5 / 4 when nested, value = 2,
 * service = 6, method = 2).
 */
function commentLookup(): ServiceDescriptors["commentOf"] {
  const byFile = new Map<string, Map<string, string>>();
  const commentsOf = (file: DescMessage["file"]) => {
    let map = byFile.get(file.name);
    if (map === undefined) {
      map = new Map();
      for (const location of file.proto.sourceCodeInfo?.location ?? []) {
        if (location.leadingComments) map.set(location.path.join("."), location.leadingComments);
      }
      byFile.set(file.name, map);
    }
    return map;
  };
  const pathOf = (desc: DescMessage | DescField | DescEnum | DescService | DescMethod): number[] => {
    switch (desc.kind) {
      case "message":
        return desc.parent === undefined
          ? [4, desc.file.messages.indexOf(desc)]
          : [...pathOf(desc.parent), 3, desc.parent.nestedMessages.indexOf(desc)];
      case "enum":
        return desc.parent === undefined
          ? [5, desc.file.enums.indexOf(desc)]
          : [...pathOf(desc.parent), 4, desc.parent.nestedEnums.indexOf(desc)];
      case "field":
        return [...pathOf(desc.parent), 2, desc.parent.fields.indexOf(desc)];
      case "service":
        return [6, desc.file.services.indexOf(desc)];
      case "rpc":
        return [...pathOf(desc.parent), 2, desc.parent.methods.indexOf(desc)];
    }
  };
  return (desc) => {
    const file = desc.kind === "field" || desc.kind === "rpc" ? desc.parent.file : desc.file;
    const text = commentsOf(file).get(pathOf(desc).join(".")) ?? "";
    return text
      .split("\n")
      .map((line) => line.trim())
      .join("\n")
      .trim();
  };
}
