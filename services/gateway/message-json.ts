// Proto3 canonical JSON ↔ protobuf bytes, driven by descriptors (@bufbuild/protobuf's conformance-tested JSON
// mapping): camelCase names out, both camelCase and proto names in, int64 as strings, enums by name, Timestamps as
// RFC 3339. Decimal fields are proto strings, so they stay JSON strings both ways; a JSON number sent for one is
// rejected rather than silently rounded through a double.
import { fromBinary, fromJson, toBinary, toJson, type DescField, type DescMessage, type JsonValue, type Message } from "@bufbuild/protobuf";
import { Status } from "nice-grpc-common";
import { gatewayError, type FieldViolation } from "./bridge-error";

export interface JsonCodecOptions {
  /** Unknown fields are a 400 (true) or ignored (false). */
  strict: boolean;
  /** Emit fields holding their default value ("" / 0 / false / []) instead of omitting them. */
  emitDefaults: boolean;
}

/** Validates a request in proto3 JSON form and encodes it; bad input throws a 400 BridgeError naming the field. */
export function encodeJsonMessage(desc: DescMessage, json: unknown, options: JsonCodecOptions): Uint8Array {
  return toBinary(desc, parseJsonMessage(desc, json, options));
}

/** Validates a request in proto3 JSON form and parses it; bad input throws a 400 BridgeError naming the field. */
export function parseJsonMessage(desc: DescMessage, json: unknown, options: JsonCodecOptions): Message {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw gatewayError(Status.INVALID_ARGUMENT, "INVALID_REQUEST_BODY", `the request must be a JSON object (${desc.typeName})`);
  }
  if (options.strict) {
    const unknown = unknownFields(desc, json, "");
    if (unknown.length > 0) {
      throw gatewayError(
        Status.INVALID_ARGUMENT,
        "UNKNOWN_FIELD",
        `unknown field${unknown.length > 1 ? "s" : ""} ${unknown.map((v) => `"${v.field}"`).join(", ")} in ${desc.typeName}`,
        { violations: unknown },
      );
    }
  }
  try {
    return fromJson(desc, json as JsonValue, { ignoreUnknownFields: !options.strict });
  } catch (error) {
    const cause = (error as { cause?: { field?: () => { name: string; kind: string } } }).cause;
    const field = typeof cause?.field === "function" ? cause.field() : undefined;
    const text = error instanceof Error ? error.message : String(error);
    throw gatewayError(Status.INVALID_ARGUMENT, "INVALID_FIELD_VALUE", text, {
      violations: [{ field: field?.name ?? desc.typeName, description: text.replace(/^cannot decode .*? from JSON: /, "") }],
    });
  }
}

/** Decodes response bytes to proto3 JSON. */
export function decodeToJson(desc: DescMessage, bytes: Uint8Array, options: JsonCodecOptions): JsonValue {
  return toJson(desc, fromBinary(desc, bytes), { alwaysEmitImplicit: options.emitDefaults });
}

/** Keys that name no field, with their dotted JSON path (well-known types are left to the parser). */
export function unknownFields(desc: DescMessage, json: object, prefix: string): FieldViolation[] {
  if (desc.typeName.startsWith("google.protobuf.")) return [];
  const found: FieldViolation[] = [];
  for (const [key, value] of Object.entries(json)) {
    const field = fieldByJsonKey(desc, key);
    const at = prefix === "" ? key : `${prefix}.${key}`;
    if (field === undefined) {
      found.push({ field: at, description: `no field "${key}" in ${desc.typeName}` });
      continue;
    }
    if (value === null || typeof value !== "object") continue;
    if (field.fieldKind === "message" && !Array.isArray(value)) found.push(...unknownFields(field.message, value, at));
    else if (field.fieldKind === "list" && field.listKind === "message" && Array.isArray(value)) {
      value.forEach((item, index) => {
        if (item !== null && typeof item === "object") found.push(...unknownFields(field.message, item as object, `${at}[${index}]`));
      });
    } else if (field.fieldKind === "map" && field.mapKind === "message" && !Array.isArray(value)) {
      for (const [mapKey, item] of Object.entries(value)) {
        if (item !== null && typeof item === "object") found.push(...unknownFields(field.message, item as object, `${at}.${mapKey}`));
      }
    }
  }
  return found;
}

const FIELD_INDEX = new WeakMap<DescMessage, Map<string, DescField>>();

/** The field a JSON key names: its lowerCamelCase JSON name or its proto name, as proto3 JSON parsers accept both. */
export function fieldByJsonKey(desc: DescMessage, key: string): DescField | undefined {
  let index = FIELD_INDEX.get(desc);
  if (index === undefined) {
    index = new Map();
    for (const field of desc.fields) {
      index.set(field.name, field);
      index.set(field.jsonName, field);
    }
    FIELD_INDEX.set(desc, index);
  }
  return index.get(key);
}
