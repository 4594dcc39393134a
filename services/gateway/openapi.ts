// OpenAPI 3.1 for everything the bridge serves, generated from the same descriptors that drive it, so it cannot
// drift: every RPC at its RPC-style path and at each `google.api.http` binding, with path and query parameters,
// request bodies, JSON Schemas (2020-12, as OpenAPI 3.1 uses) of every message in its proto3 JSON form, server
// streams as `text/event-stream` / `application/x-ndjson`, client streams as NDJSON bodies, and the error body.
import { ScalarType, type DescEnum, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { HTTP_STATUS_BY_GRPC_CODE } from "./bridge-error";
import { parsePathTemplate } from "./path-template";
import type { BridgeMethod, HttpBinding, ServiceDescriptors } from "./service-descriptors";

type Schema = Record<string, unknown>;

const ERROR_SCHEMA = "tradeplane.gateway.Error";

/** The OpenAPI 3.1 document of the bridge. */
export function buildOpenApiDocument(descriptors: ServiceDescriptors, version = "1.0.0"): Record<string, unknown> {
  const schemas: Record<string, Schema> = {};
  const refOf = (desc: DescMessage | DescEnum): Schema => {
    if (!(desc.typeName in schemas)) {
      schemas[desc.typeName] = {}; // reserve first: messages may be recursive
      schemas[desc.typeName] = desc.kind === "enum" ? enumSchema(desc, descriptors) : messageSchema(desc, descriptors, refOf);
    }
    return { $ref: `#/components/schemas/${desc.typeName}` };
  };

  const paths: Record<string, Record<string, unknown>> = {};
  for (const method of descriptors.methods) {
    const summary = firstSentence(descriptors.commentOf(method.descriptor));
    const description = descriptors.commentOf(method.descriptor);
    const tag = method.service.typeName;
    const extra = {
      "x-grpc-method": method.grpcPath,
      "x-grpc-kind": method.kind,
      ...(method.idempotency === undefined ? {} : { "x-idempotency-level": method.idempotency }),
      ...(method.cursor === undefined ? {} : { "x-resume-field": method.cursor.requestField.name }),
    };
    paths[method.grpcPath] = {
      post: {
        operationId: `${method.service.name}_${method.descriptor.name}`,
        tags: [tag],
        summary,
        description,
        ...extra,
        parameters: commonParameters(method),
        requestBody: requestBodyOf(method, "*", refOf),
        responses: responsesOf(method, refOf),
      },
    };
    method.bindings.forEach((binding, index) => {
      const template = parsePathTemplate(binding.template);
      const openApiPath = openApiPathOf(binding.template);
      const pathFields = new Set(template.variables.map((v) => v.fieldPath));
      const operation: Record<string, unknown> = {
        operationId: `${method.service.name}_${method.descriptor.name}_${index}`,
        tags: [tag],
        summary,
        description,
        ...extra,
        parameters: [
          ...template.variables.map((v) => ({
            name: v.fieldPath,
            in: "path",
            required: true,
            description: fieldAt(method.input, v.fieldPath, descriptors),
            schema: { type: "string" },
          })),
          ...queryParametersOf(method, binding, pathFields, descriptors, refOf),
          ...commonParameters(method),
        ],
        responses: responsesOf(method, refOf),
      };
      if (binding.body !== "") operation.requestBody = requestBodyOf(method, binding.body, refOf);
      paths[openApiPath] ??= {};
      paths[openApiPath]![binding.verb.toLowerCase()] = operation;
    });
  }

  schemas[ERROR_SCHEMA] = errorSchema();
  const tags = descriptors.services.map((s) => ({ name: s.typeName, description: descriptors.commentOf(s) }));
  return {
    openapi: "3.1.0",
    info: {
      title: "tradeplane HTTP/JSON API",
      version,
      summary: "Every tradeplane gRPC method over HTTP/JSON: REST paths from google.api.http and POST /<package>.<Service>/<Method>.",
      description: [
        "Bodies and responses are proto3 canonical JSON: decimals (money, prices, quantities) and 64-bit integers are strings, enums are names, timestamps are RFC 3339.",
        "Authenticate with `Authorization: Bearer <JWT>` (or `?access_token=` on GET, for EventSource). `X-Timeout-Ms` sets the call's deadline.",
        "Server streams are Server-Sent Events (default) or NDJSON (`Accept: application/x-ndjson`); a reconnect with `Last-Event-ID` resumes after that event.",
        "Errors are `{ \"error\": { code, status, message, details[] } }` (AIP-193) with the google.rpc details of the service.",
      ].join("\n\n"),
    },
    jsonSchemaDialect: "https://spec.openapis.org/oas/3.1/dialect/base",
    tags,
    security: [{ bearerAuth: [] }],
    paths,
    components: {
      schemas,
      securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
    },
  };
}

/** `{name=shelves/*}` → `{name}`; a verb suffix stays part of the path. */
function openApiPathOf(template: string): string {
  return template.replace(/\{([^}=]+)(=[^}]*)?\}/g, "{$1}");
}

function commonParameters(method: BridgeMethod): Schema[] {
  const parameters: Schema[] = [
    { name: "X-Timeout-Ms", in: "header", required: false, description: "Deadline of the call in milliseconds.", schema: { type: "integer", minimum: 1 } },
  ];
  if (method.cursor !== undefined) {
    parameters.push({
      name: "Last-Event-ID",
      in: "header",
      required: false,
      description: `Resume after this event: becomes \`${method.cursor.requestField.name}\`. EventSource sends it on reconnect.`,
      schema: { type: "string" },
    });
  }
  return parameters;
}

function requestBodyOf(method: BridgeMethod, body: string, refOf: (d: DescMessage | DescEnum) => Schema): Schema {
  if (method.kind === "client_streaming" || method.kind === "bidi_streaming") {
    return {
      required: true,
      description: `NDJSON: one ${method.input.typeName} per line.`,
      content: { "application/x-ndjson": { schema: refOf(method.input) } },
    };
  }
  const field = body === "*" ? undefined : method.input.fields.find((f) => f.name === body || f.jsonName === body);
  return {
    required: false,
    content: { "application/json": { schema: field === undefined ? refOf(method.input) : fieldSchema(field, refOf) } },
  };
}

function queryParametersOf(
  method: BridgeMethod,
  binding: HttpBinding,
  pathFields: Set<string>,
  descriptors: ServiceDescriptors,
  refOf: (d: DescMessage | DescEnum) => Schema,
): Schema[] {
  if (binding.body === "*" || method.kind === "client_streaming") return [];
  const parameters: Schema[] = [];
  for (const field of method.input.fields) {
    if (pathFields.has(field.name) || field.name === binding.body || field.jsonName === binding.body) continue;
    if (field.fieldKind === "map") continue;
    const kind = field.fieldKind === "list" ? field.listKind : field.fieldKind;
    if (kind === "message" && !field.message!.typeName.startsWith("google.protobuf.")) {
      // Nested messages bind by dotted names (`options.tolerance`); list their scalar fields one level deep.
      for (const inner of field.message!.fields) {
        if (inner.fieldKind === "scalar" || inner.fieldKind === "enum") {
          parameters.push({
            name: `${field.jsonName}.${inner.jsonName}`,
            in: "query",
            required: false,
            description: descriptors.commentOf(inner),
            schema: fieldSchema(inner, refOf),
          });
        }
      }
      continue;
    }
    const schema = fieldSchema(field, refOf);
    parameters.push({
      name: field.jsonName,
      in: "query",
      required: false,
      description: descriptors.commentOf(field),
      schema,
      ...(field.fieldKind === "list" ? { style: "form", explode: true } : {}),
    });
  }
  return parameters;
}

function responsesOf(method: BridgeMethod, refOf: (d: DescMessage | DescEnum) => Schema): Record<string, unknown> {
  const error = {
    description: "An error: AIP-193 body with the gRPC status name and google.rpc details.",
    content: { "application/json": { schema: { $ref: `#/components/schemas/${ERROR_SCHEMA}` } } },
  };
  const ok =
    method.kind === "server_streaming" || method.kind === "bidi_streaming"
      ? {
          description:
            `A stream of ${method.output.typeName} frames. SSE: each event's data is one frame` +
            (method.cursor === undefined ? "" : " and its `id` the cursor to resume from") +
            "; `event: end` closes a finished stream and `event: rpc-error` carries an error body. NDJSON: one `{\"result\": frame}` per line, a final `{\"error\": ...}` on failure.",
          content: {
            "text/event-stream": { schema: { type: "string", description: `Server-Sent Events whose data is ${method.output.typeName} JSON.` }, "x-frame-schema": refOf(method.output) },
            "application/x-ndjson": { schema: { type: "object", properties: { result: refOf(method.output) } } },
          },
        }
      : { description: "OK", content: { "application/json": { schema: refOf(method.output) } } };
  const responses: Record<string, unknown> = { "200": ok };
  for (const status of new Set(Object.values(HTTP_STATUS_BY_GRPC_CODE))) {
    if (status !== 200 && status !== 499) responses[String(status)] = error;
  }
  responses.default = error;
  return responses;
}

function messageSchema(desc: DescMessage, descriptors: ServiceDescriptors, refOf: (d: DescMessage | DescEnum) => Schema): Schema {
  const special = wellKnownSchema(desc.typeName);
  if (special !== undefined) return special;
  const properties: Record<string, Schema> = {};
  for (const field of desc.fields) {
    const comment = descriptors.commentOf(field);
    const oneof = field.oneof === undefined ? "" : ` (one of \`${field.oneof.name}\`: at most one is set)`;
    properties[field.jsonName] = { ...fieldSchema(field, refOf), ...(comment || oneof ? { description: comment + oneof } : {}) };
  }
  return { type: "object", description: descriptors.commentOf(desc), properties, additionalProperties: false };
}

function fieldSchema(field: DescField, refOf: (d: DescMessage | DescEnum) => Schema): Schema {
  switch (field.fieldKind) {
    case "scalar":
      return scalarSchema(field.scalar);
    case "enum":
      return refOf(field.enum);
    case "message":
      return refOf(field.message);
    case "list": {
      const items = field.listKind === "scalar" ? scalarSchema(field.scalar) : field.listKind === "enum" ? refOf(field.enum) : refOf(field.message);
      return { type: "array", items };
    }
    case "map": {
      const values = field.mapKind === "scalar" ? scalarSchema(field.scalar) : field.mapKind === "enum" ? refOf(field.enum) : refOf(field.message);
      return { type: "object", additionalProperties: values };
    }
  }
}

function scalarSchema(scalar: ScalarType): Schema {
  switch (scalar) {
    case ScalarType.STRING:
      return { type: "string" };
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.BYTES:
      return { type: "string", contentEncoding: "base64" };
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return { type: "number" };
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { type: "integer", format: "int32" };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", format: "int32", minimum: 0 };
    default:
      // 64-bit integers are strings in proto3 JSON: a double cannot hold them exactly.
      return { type: "string", format: "int64", pattern: "^-?[0-9]+$" };
  }
}

function wellKnownSchema(typeName: string): Schema | undefined {
  switch (typeName) {
    case "google.protobuf.Timestamp":
      return { type: "string", format: "date-time", description: "RFC 3339 timestamp, e.g. 2024-05-01T13:30:00Z." };
    case "google.protobuf.Duration":
      return { type: "string", pattern: "^-?[0-9]+(\\.[0-9]+)?s$", description: "Duration in seconds, e.g. 1.5s." };
    case "google.protobuf.Empty":
      return { type: "object", additionalProperties: false };
    default:
      return undefined;
  }
}

function enumSchema(desc: DescEnum, descriptors: ServiceDescriptors): Schema {
  return { type: "string", enum: desc.values.map((v) => v.name), description: descriptors.commentOf(desc) };
}

function errorSchema(): Schema {
  return {
    type: "object",
    required: ["error"],
    properties: {
      error: {
        type: "object",
        required: ["code", "status", "message", "details"],
        properties: {
          code: { type: "integer", description: "HTTP status code." },
          status: { type: "string", description: "gRPC status name, e.g. NOT_FOUND." },
          message: { type: "string" },
          details: {
            type: "array",
            description: "google.rpc details (ErrorInfo always; BadRequest, RetryInfo, PreconditionFailure, QuotaFailure as they apply).",
            items: { type: "object", required: ["@type"], properties: { "@type": { type: "string" } }, additionalProperties: true },
          },
        },
      },
    },
  };
}

function fieldAt(desc: DescMessage, fieldPath: string, descriptors: ServiceDescriptors): string {
  let message: DescMessage | undefined = desc;
  let field: DescField | undefined;
  for (const part of fieldPath.split(".")) {
    field = message?.fields.find((f) => f.name === part || f.jsonName === part);
    message = field?.fieldKind === "message" ? field.message : undefined;
  }
  return field === undefined ? "" : descriptors.commentOf(field);
}

function firstSentence(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  const end = flat.search(/\.(\s|$)/);
  return end < 0 ? flat : flat.slice(0, end + 1);
}
