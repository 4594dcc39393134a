// Proto3 JSON of server-stream frames, cheap enough for fan-out. When a tick reaches a thousand SSE subscribers,
// the bridge receives a thousand frames that differ only in a few top-level strings (a quote frame's `stream_id`
// and `resume_token`) around the same payload bytes (the `update` Quote). Decoding and writing each of them as a
// whole (fromBinary, toJson, JSON.stringify) repeats identical work per subscriber. This encoder walks only the top
// level of the wire format: string fields are written directly, and each message-typed field's JSON is computed
// once per distinct payload bytes and reused for every frame that carries the same bytes.
//
// The output is byte-for-byte what `JSON.stringify(decodeToJson(...))` writes (same key order, by field number as
// @bufbuild/protobuf's toJson does; same default values): frames it cannot walk simply (a field appearing more
// than once, groups, malformed bytes) take that generic path whole.
import { fromBinary, toJson, type DescField, type DescMessage, type JsonValue } from "@bufbuild/protobuf";
import type { JsonCodecOptions } from "./message-json";

/** One frame as JSON text, and its top-level JSON object (for the stream cursor; nested values are shared: read only). */
export interface EncodedFrame {
  text: string;
  json: Record<string, JsonValue>;
}

export type FrameEncoder = (bytes: Uint8Array) => EncodedFrame;

/** Distinct payloads remembered per message field: a burst of one tick to every subscriber needs one entry. */
const PAYLOAD_CACHE_ENTRIES = 64;

interface FieldPlan {
  field: DescField;
  number: number;
  /** `"jsonName":` */
  key: string;
  kind: "string" | "message" | "other";
  /** The field when absent: `"key":default` with emitDefaults for implicit-presence fields, else "". */
  defaultText: string;
  defaultValue: JsonValue | undefined;
  /** message fields: payload bytes (latin1) → its JSON. */
  cache: Map<string, { text: string; value: JsonValue }>;
}

/** Builds the encoder of one response message type. */
export function createFrameEncoder(desc: DescMessage, options: Pick<JsonCodecOptions, "emitDefaults">): FrameEncoder {
  const jsonOptions = { alwaysEmitImplicit: options.emitDefaults };
  const generic = (bytes: Uint8Array): EncodedFrame => {
    const json = toJson(desc, fromBinary(desc, bytes), jsonOptions) as Record<string, JsonValue>;
    return { text: JSON.stringify(json), json };
  };
  // Well-known types have their own JSON shapes (a Timestamp is a string): never walked.
  if (desc.typeName.startsWith("google.protobuf.")) return generic;

  const defaults = toJson(desc, fromBinary(desc, new Uint8Array(0)), jsonOptions) as Record<string, JsonValue>;
  const plans: FieldPlan[] = desc.fields
    .concat()
    .sort((a, b) => a.number - b.number)
    .map((field) => {
      const key = `${JSON.stringify(field.jsonName)}:`;
      const defaultValue = defaults[field.jsonName];
      return {
        field,
        number: field.number,
        key,
        kind: field.fieldKind === "scalar" && field.scalar === STRING ? "string" : field.fieldKind === "message" ? "message" : "other",
        defaultText: defaultValue === undefined ? "" : key + JSON.stringify(defaultValue),
        defaultValue,
        cache: new Map(),
      };
    });
  const planIndex = new Map<number, number>(plans.map((plan, index) => [plan.number, index]));
  // Strings and messages are length-delimited; another wire type there is malformed and left to the parser.
  const lengthDelimited = Uint8Array.from(plans, (plan) => (plan.kind === "other" ? 0 : 1));
  // Two members of one oneof on the wire: the parser keeps the last, so such a frame takes the generic path.
  const oneofs = desc.oneofs.map((oneof) => oneof.fields.map((field) => planIndex.get(field.number)!));
  // Segment bounds per plan, reused by every call (the encoder is synchronous): value start/end, and the whole
  // field (tag included) for the generic per-field path.
  const valueStart = new Int32Array(plans.length);
  const valueEnd = new Int32Array(plans.length);
  const fieldStart = new Int32Array(plans.length);

  const fieldJson = (plan: FieldPlan, bytes: Uint8Array, index: number): { text: string; value: JsonValue | undefined } => {
    switch (plan.kind) {
      case "string": {
        const value = utf8(bytes, valueStart[index]!, valueEnd[index]!);
        if (value === "" && plan.defaultText === "") return { text: "", value: undefined };
        return { text: plan.key + JSON.stringify(value), value };
      }
      case "message": {
        const payload = bytes.subarray(valueStart[index]!, valueEnd[index]!);
        const cacheKey = latin1(payload);
        let hit = plan.cache.get(cacheKey);
        if (hit === undefined) {
          const value = toJson(plan.field.message!, fromBinary(plan.field.message!, payload), jsonOptions);
          hit = { text: plan.key + JSON.stringify(value), value };
          if (plan.cache.size >= PAYLOAD_CACHE_ENTRIES) plan.cache.delete(plan.cache.keys().next().value!);
          plan.cache.set(cacheKey, hit);
        }
        return hit;
      }
      default: {
        // Numbers, enums, bools, a packed list, a one-entry map: decoded alone, as rare as they are cheap.
        const alone = toJson(desc, fromBinary(desc, bytes.subarray(fieldStart[index]!, valueEnd[index]!)), jsonOptions) as Record<string, JsonValue>;
        const value = alone[plan.field.jsonName];
        return value === undefined ? { text: "", value } : { text: plan.key + JSON.stringify(value), value };
      }
    }
  };

  return (bytes) => {
    valueStart.fill(-1);
    if (!walk(bytes, planIndex, lengthDelimited, fieldStart, valueStart, valueEnd)) return generic(bytes);
    for (const members of oneofs) {
      let set = 0;
      for (const index of members) if (valueStart[index] !== -1) set++;
      if (set > 1) return generic(bytes);
    }
    let text = "{";
    const json: Record<string, JsonValue> = {};
    for (let index = 0; index < plans.length; index++) {
      const plan = plans[index]!;
      let piece: string;
      let value: JsonValue | undefined;
      if (valueStart[index] === -1) {
        piece = plan.defaultText;
        value = plan.defaultValue;
      } else {
        const encoded = fieldJson(plan, bytes, index);
        piece = encoded.text;
        value = encoded.value;
      }
      if (piece === "") continue;
      if (text.length > 1) text += ",";
      text += piece;
      json[plan.field.jsonName] = value!;
    }
    return { text: `${text}}`, json };
  };
}

const STRING = 9; // ScalarType.STRING

/**
 * Finds the top-level fields of a message: for each known field, where its value starts and ends. Returns false
 * when the frame needs the generic path: a known field seen twice (repeated or merged), a group, bad bytes.
 */
function walk(bytes: Uint8Array, planIndex: Map<number, number>, lengthDelimited: Uint8Array, fieldStart: Int32Array, valueStart: Int32Array, valueEnd: Int32Array): boolean {
  let pos = 0;
  const length = bytes.length;
  while (pos < length) {
    const start = pos;
    let tag = 0;
    let scale = 1;
    for (;;) {
      if (pos >= length || scale > 2 ** 28) return false;
      const byte = bytes[pos++]!;
      tag += (byte & 0x7f) * scale;
      scale *= 128;
      if (byte < 0x80) break;
    }
    const wireType = tag % 8;
    const number = Math.floor(tag / 8);
    let from = pos;
    switch (wireType) {
      case 0: // varint
        for (;;) {
          if (pos >= length || pos - from > 9) return false;
          if (bytes[pos++]! < 0x80) break;
        }
        break;
      case 1: // 64-bit
        pos += 8;
        break;
      case 5: // 32-bit
        pos += 4;
        break;
      case 2: {
        let size = 0;
        let sizeScale = 1;
        for (;;) {
          if (pos >= length || sizeScale > 2 ** 28) return false;
          const byte = bytes[pos++]!;
          size += (byte & 0x7f) * sizeScale;
          sizeScale *= 128;
          if (byte < 0x80) break;
        }
        from = pos;
        pos += size;
        break;
      }
      default: // groups (3, 4) and invalid wire types
        return false;
    }
    if (pos > length) return false;
    const index = planIndex.get(number);
    if (index === undefined) continue; // unknown fields are not part of proto3 JSON
    if (valueStart[index] !== -1 || (lengthDelimited[index] === 1 && wireType !== 2)) return false;
    fieldStart[index] = start;
    valueStart[index] = from;
    valueEnd[index] = pos;
  }
  return true;
}

function utf8(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.isBuffer(bytes) ? bytes.toString("utf8", start, end) : Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString("utf8");
}

function latin1(bytes: Uint8Array): string {
  return Buffer.isBuffer(bytes) ? bytes.toString("latin1") : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}
