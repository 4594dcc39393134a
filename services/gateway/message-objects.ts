// Proto3 JSON ↔ the message objects tradeplane's handlers take and return (ts-proto's shapes), for calls the bridge
// makes in-process: no protobuf bytes in between. JSON is still parsed and validated by @bufbuild/protobuf
// (message-json.ts), so a bad request gets exactly the 400 it gets on the gRPC path, and responses are still
// written by its `toJson`, so the JSON is the same byte for byte; only the step in between changes, from
// encode/decode to a walk over the descriptor that converts the few representations that differ:
//
// | proto                    | @bufbuild/protobuf          | ts-proto (buf.gen.yaml options)     |
// |--------------------------|-----------------------------|-------------------------------------|
// | 64-bit integers          | bigint                      | decimal string (forceLong=string)   |
// | google.protobuf.Timestamp| message {seconds, nanos}    | Date (useDate=true)                 |
// | oneof                    | {case, value}               | {$case, value} (oneof=unions-value) |
// | bytes                    | Uint8Array                  | Buffer (env=node)                   |
//
// Everything else (strings, bools, doubles, enums as numbers, repeated, maps, nested messages) has one shape.
import { create, toJson, ScalarType, type DescField, type DescMessage, type DescOneof, type JsonValue, type Message } from "@bufbuild/protobuf";
import { parseJsonMessage, type JsonCodecOptions } from "./message-json";

type MessageObject = Record<string, unknown>;

/** Validates a request in proto3 JSON form (the same 400s as the gRPC path) and returns it as a message object. */
export function messageObjectFromJson(desc: DescMessage, json: unknown, options: JsonCodecOptions): MessageObject {
  return objectOf(desc, parseJsonMessage(desc, json, options) as unknown as MessageObject);
}

/** Writes a handler's response object as proto3 JSON, exactly as `decodeToJson` writes its encoded form. */
export function messageObjectToJson(desc: DescMessage, object: MessageObject, options: JsonCodecOptions): JsonValue {
  return toJson(desc, messageOf(desc, object), { alwaysEmitImplicit: options.emitDefaults });
}

const TIMESTAMP = "google.protobuf.Timestamp";

/** The property a field or oneof has on ts-proto objects: bufbuild's local name without its reserved-word escape. */
function propertyOf(member: DescField | DescOneof): string {
  const name = member.localName;
  return name.endsWith("$") ? name.slice(0, -1) : name;
}

function is64Bit(scalar: ScalarType): boolean {
  return (
    scalar === ScalarType.INT64 ||
    scalar === ScalarType.UINT64 ||
    scalar === ScalarType.SINT64 ||
    scalar === ScalarType.FIXED64 ||
    scalar === ScalarType.SFIXED64
  );
}

// bufbuild message → ts-proto object (requests).

function objectOf(desc: DescMessage, message: MessageObject): MessageObject {
  if (desc.typeName === TIMESTAMP) return dateOf(message) as unknown as MessageObject;
  const object: MessageObject = {};
  for (const member of desc.members) {
    const value = message[member.localName];
    if (member.kind === "oneof") {
      const selected = value as { case: string | undefined; value?: unknown };
      if (selected.case === undefined) continue;
      const field = member.fields.find((f) => f.localName === selected.case)!;
      object[propertyOf(member)] = { $case: propertyOf(field), value: singularToObject(field, selected.value) };
      continue;
    }
    if (value === undefined) continue;
    object[propertyOf(member)] = fieldToObject(member, value);
  }
  return object;
}

function fieldToObject(field: DescField, value: unknown): unknown {
  switch (field.fieldKind) {
    case "list":
      return (value as unknown[]).map((item) => listItemToObject(field, item));
    case "map": {
      const out: MessageObject = {};
      for (const [key, item] of Object.entries(value as MessageObject)) {
        out[key] = field.mapKind === "message" ? objectOf(field.message, item as MessageObject) : field.mapKind === "scalar" ? scalarToObject(field.scalar, item) : item;
      }
      return out;
    }
    default:
      return singularToObject(field, value);
  }
}

function listItemToObject(field: DescField & { fieldKind: "list" }, item: unknown): unknown {
  if (field.listKind === "message") return objectOf(field.message, item as MessageObject);
  if (field.listKind === "scalar") return scalarToObject(field.scalar, item);
  return item;
}

function singularToObject(field: DescField, value: unknown): unknown {
  if (field.fieldKind === "message") return objectOf(field.message, value as MessageObject);
  if (field.fieldKind === "scalar") return scalarToObject(field.scalar, value);
  return value;
}

function scalarToObject(scalar: ScalarType, value: unknown): unknown {
  if (is64Bit(scalar)) return String(value);
  if (scalar === ScalarType.BYTES) return Buffer.from(value as Uint8Array);
  return value;
}

/** ts-proto's fromTimestamp: milliseconds, sub-millisecond nanos dropped. */
function dateOf(timestamp: MessageObject): Date {
  return new Date(Number(timestamp.seconds) * 1_000 + (timestamp.nanos as number) / 1_000_000);
}

// ts-proto object → bufbuild message (responses).

function messageOf(desc: DescMessage, object: MessageObject): Message {
  if (desc.typeName === TIMESTAMP) return timestampOf(desc, object as unknown as Date);
  const message = create(desc) as unknown as MessageObject;
  for (const member of desc.members) {
    const value = object[propertyOf(member)];
    if (value === undefined || value === null) continue;
    if (member.kind === "oneof") {
      const selected = value as { $case?: string; value?: unknown };
      const field = member.fields.find((f) => propertyOf(f) === selected.$case);
      if (field !== undefined) message[member.localName] = { case: field.localName, value: singularToMessage(field, selected.value) };
      continue;
    }
    message[member.localName] = fieldToMessage(member, value);
  }
  return message as unknown as Message;
}

function fieldToMessage(field: DescField, value: unknown): unknown {
  switch (field.fieldKind) {
    case "list":
      if (field.listKind === "message") return (value as MessageObject[]).map((item) => messageOf(field.message, item));
      if (field.listKind === "scalar") return (value as unknown[]).map((item) => scalarToMessage(field.scalar, item));
      return value;
    case "map": {
      const out: MessageObject = {};
      for (const [key, item] of Object.entries(value as MessageObject)) {
        out[key] = field.mapKind === "message" ? messageOf(field.message, item as MessageObject) : field.mapKind === "scalar" ? scalarToMessage(field.scalar, item) : item;
      }
      return out;
    }
    default:
      return singularToMessage(field, value);
  }
}

function singularToMessage(field: DescField, value: unknown): unknown {
  if (field.fieldKind === "message") return messageOf(field.message, value as MessageObject);
  if (field.fieldKind === "scalar") return scalarToMessage(field.scalar, value);
  return value;
}

function scalarToMessage(scalar: ScalarType, value: unknown): unknown {
  return is64Bit(scalar) ? BigInt(value as string) : value;
}

/** ts-proto's toTimestamp, so the JSON carries what the encoded message would have carried. */
function timestampOf(desc: DescMessage, date: Date): Message {
  const millis = date.getTime();
  const timestamp = create(desc) as unknown as MessageObject;
  timestamp.seconds = BigInt(Math.trunc(millis / 1_000));
  timestamp.nanos = (millis % 1_000) * 1_000_000;
  return timestamp as unknown as Message;
}
