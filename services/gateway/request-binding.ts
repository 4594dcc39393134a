// Builds the request message (in proto3 JSON form) of an HTTP request, as the method's `google.api.http` binding
// says (https://cloud.google.com/endpoints/docs/grpc-service-config/reference/rpc/google.api#httprule):
// - path variables set the fields they name (dotted paths reach into nested messages), and win over the body;
// - `body: "*"`: the JSON body holds every other field, and the query string binds nothing;
// - `body: "field"`: the JSON body is that one field, other fields come from the query string;
// - no body: every other field comes from the query string (`?symbols=A&symbols=B` for repeated fields,
//   `?options.tolerance=0.02` for nested ones);
// - the RPC-style route (`POST /pkg.Svc/Method`) takes the whole request from the body.
// On a resumable stream, `Last-Event-ID` (sent by EventSource on reconnect) overrides the cursor field.
import type { DescField, DescMessage } from "@bufbuild/protobuf";
import { ScalarType } from "@bufbuild/protobuf";
import { Status } from "nice-grpc-common";
import { gatewayError, type FieldViolation, type JsonObject } from "./bridge-error";
import { fieldByJsonKey } from "./message-json";
import type { Route } from "./route-table";

/** Query parameters the bridge itself reads; never bound to request fields. */
export const RESERVED_QUERY_PARAMETERS: ReadonlySet<string> = new Set(["access_token"]);

export interface BindingInput {
  route: Route;
  pathParams: ReadonlyMap<string, string>;
  query: URLSearchParams;
  /** The parsed JSON body, or undefined when there is none. */
  body: unknown;
  lastEventId?: string;
  strict: boolean;
}

/** The request in proto3 JSON form; invalid bindings throw a 400 BridgeError. */
export function bindRequest(input: BindingInput): JsonObject {
  const { route } = input;
  const desc = route.method.input;
  const bodyRule = route.binding === undefined ? "*" : route.binding.body;
  let request: JsonObject;
  if (bodyRule === "*") {
    request = input.body === undefined ? {} : asObject(input.body, desc);
  } else {
    request = {};
    if (bodyRule !== "" && input.body !== undefined) {
      const field = fieldByJsonKey(desc, bodyRule);
      if (field === undefined) throw new Error(`binding body "${bodyRule}" names no field of ${desc.typeName}`);
      request[field.jsonName] = input.body;
    }
  }

  const violations: FieldViolation[] = [];
  const boundByPath = new Set<string>();
  for (const [fieldPath, value] of input.pathParams) {
    boundByPath.add(fieldPath);
    const problem = setByPath(request, desc, fieldPath, value, false);
    if (problem !== undefined) violations.push({ field: fieldPath, description: problem });
  }

  for (const key of new Set(input.query.keys())) {
    if (RESERVED_QUERY_PARAMETERS.has(key)) continue;
    if (bodyRule === "*" || boundByPath.has(key) || key === bodyRule) {
      if (input.strict) violations.push({ field: key, description: "this route takes the field from the path or the body, not the query string" });
      continue;
    }
    for (const value of input.query.getAll(key)) {
      const problem = setByPath(request, desc, key, value, true);
      if (problem === UNKNOWN_FIELD) {
        if (input.strict) violations.push({ field: key, description: `no field "${key}" in ${desc.typeName}` });
        break;
      }
      if (problem !== undefined) violations.push({ field: key, description: problem });
    }
  }

  const cursor = route.method.cursor;
  if (cursor !== undefined && input.lastEventId !== undefined && input.lastEventId !== "") {
    if (cursor.requestField.name !== cursor.requestField.jsonName) delete request[cursor.requestField.name];
    request[cursor.requestField.jsonName] = input.lastEventId;
  }

  if (violations.length > 0) {
    throw gatewayError(Status.INVALID_ARGUMENT, "INVALID_PARAMETER", violations.map((v) => `${v.field}: ${v.description}`).join("; "), { violations });
  }
  return request;
}

function asObject(body: unknown, desc: DescMessage): JsonObject {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw gatewayError(Status.INVALID_ARGUMENT, "INVALID_REQUEST_BODY", `the request body must be a JSON object (${desc.typeName})`);
  }
  return body as JsonObject;
}

const UNKNOWN_FIELD = "unknown field";

/** Sets (or, for repeated fields, appends) the field at a dotted path from its text form; returns a problem or undefined. */
function setByPath(request: JsonObject, desc: DescMessage, fieldPath: string, text: string, append: boolean): string | undefined {
  const parts = fieldPath.split(".");
  let target = request;
  let message = desc;
  for (let i = 0; i < parts.length - 1; i++) {
    const field = fieldByJsonKey(message, parts[i]!);
    if (field === undefined) return UNKNOWN_FIELD;
    if (field.fieldKind !== "message") return `"${parts[i]}" is not a message field, so it has no "${parts[i + 1]}"`;
    const existing = target[field.jsonName] ?? target[field.name];
    const next = existing !== null && typeof existing === "object" && !Array.isArray(existing) ? (existing as JsonObject) : {};
    if (field.name !== field.jsonName) delete target[field.name];
    target[field.jsonName] = next;
    target = next;
    message = field.message;
  }
  const field = fieldByJsonKey(message, parts.at(-1)!);
  if (field === undefined) return UNKNOWN_FIELD;
  const value = valueFromText(field, text);
  if ("problem" in value) return value.problem;
  if (field.name !== field.jsonName) delete target[field.name];
  if (field.fieldKind === "list") {
    const list = append && Array.isArray(target[field.jsonName]) ? (target[field.jsonName] as unknown[]) : [];
    list.push(value.value);
    target[field.jsonName] = list;
  } else {
    target[field.jsonName] = value.value;
  }
  return undefined;
}

/** Message types whose proto3 JSON form is a string, so one query value can set them. */
const STRING_FORM_MESSAGES = new Set([
  "google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask",
  "google.protobuf.StringValue", "google.protobuf.BytesValue", "google.protobuf.Int64Value", "google.protobuf.UInt64Value",
  "google.protobuf.Int32Value", "google.protobuf.UInt32Value", "google.protobuf.DoubleValue", "google.protobuf.FloatValue",
  "google.protobuf.BoolValue",
]);

/**
 * The JSON value of a path or query text for a field. Numbers stay text (proto3 JSON accepts numeric strings, and
 * int64 must be one); bools and enum numbers are converted; the JSON parser then checks everything else.
 */
function valueFromText(field: DescField, text: string): { value: unknown } | { problem: string } {
  const kind = field.fieldKind === "list" ? field.listKind : field.fieldKind;
  if (kind === "map") return { problem: "a map field cannot be set from the path or query string" };
  if (kind === "enum") return { value: /^-?\d+$/.test(text) ? Number(text) : text };
  if (kind === "message") {
    const typeName = field.message!.typeName;
    return STRING_FORM_MESSAGES.has(typeName) ? { value: text } : { problem: `${typeName} cannot be set from one text value` };
  }
  if (field.scalar === ScalarType.BOOL) {
    if (text === "true" || text === "1") return { value: true };
    if (text === "false" || text === "0") return { value: false };
    return { problem: `expected true or false, got "${text}"` };
  }
  return { value: text };
}
