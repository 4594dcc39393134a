// gRPC server reflection, v1 and v1alpha, so grpcurl and `buf curl` can list and call every service. The
// descriptors come from the committed descriptor set (generated/tradeplane.binpb) plus grpc.health.v1 and the
// reflection protos themselves. @grpc/reflection implements the protocol on a raw grpc-js server; here its handlers
// are adapted to nice-grpc services, so reflection runs through the same middleware (metrics, tracing) as the rest.
import { EventEmitter } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ServiceDefinition, UntypedHandleCall } from '@grpc/grpc-js';
import { loadFileDescriptorSetFromObject, loadSync, type PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { Reader } from 'protobufjs';

/** Where `npm run generate` writes the descriptor set of every tradeplane proto. */
export const DEFAULT_DESCRIPTOR_SET_PATH = path.resolve(__dirname, '../../generated/tradeplane.binpb');

export const HEALTH_SERVICE_NAME = 'grpc.health.v1.Health';
export const REFLECTION_SERVICE_NAMES: readonly string[] = [
  'grpc.reflection.v1.ServerReflection',
  'grpc.reflection.v1alpha.ServerReflection',
];

// nice-grpc-server-health ships generated code but no descriptor, so the (tiny, frozen) health schema is written out
// here from its public definition: https://github.com/grpc/grpc/blob/master/src/proto/grpc/health/v1/health.proto
const HEALTH_FILE_DESCRIPTOR = {
  name: 'grpc/health/v1/health.proto',
  package: 'grpc.health.v1',
  syntax: 'proto3',
  messageType: [
    {
      name: 'HealthCheckRequest',
      field: [{ name: 'service', number: 1, label: 'LABEL_OPTIONAL', type: 'TYPE_STRING', jsonName: 'service' }],
    },
    {
      name: 'HealthCheckResponse',
      field: [
        {
          name: 'status',
          number: 1,
          label: 'LABEL_OPTIONAL',
          type: 'TYPE_ENUM',
          typeName: '.grpc.health.v1.HealthCheckResponse.ServingStatus',
          jsonName: 'status',
        },
      ],
      enumType: [
        {
          name: 'ServingStatus',
          value: [
            { name: 'UNKNOWN', number: 0 },
            { name: 'SERVING', number: 1 },
            { name: 'NOT_SERVING', number: 2 },
            { name: 'SERVICE_UNKNOWN', number: 3 },
          ],
        },
      ],
    },
  ],
  service: [
    {
      name: 'Health',
      method: [
        { name: 'Check', inputType: '.grpc.health.v1.HealthCheckRequest', outputType: '.grpc.health.v1.HealthCheckResponse' },
        {
          name: 'Watch',
          inputType: '.grpc.health.v1.HealthCheckRequest',
          outputType: '.grpc.health.v1.HealthCheckResponse',
          serverStreaming: true,
        },
      ],
    },
  ],
};

function reflectionProtoDefinitions(): PackageDefinition {
  const protoRoot = path.join(path.dirname(require.resolve('@grpc/reflection/package.json')), 'build', 'proto');
  return loadSync(['grpc/reflection/v1/reflection.proto', 'grpc/reflection/v1alpha/reflection.proto'], {
    includeDirs: [protoRoot],
  });
}

/** The FileDescriptorProtos of a FileDescriptorSet (`repeated FileDescriptorProto file = 1`), byte for byte. */
function splitDescriptorSet(descriptorSet: Uint8Array): Uint8Array[] {
  const reader = Reader.create(descriptorSet);
  const files: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 === 1 && (tag & 7) === 2) files.push(reader.bytes());
    else reader.skipType(tag & 7);
  }
  return files;
}

/**
 * Descriptors of the tradeplane protos (when generated), health and reflection, shaped as the package definition
 * @grpc/reflection reads. The tradeplane files are served exactly as buf built them: proto-loader's own loading
 * merges the files of one package and drops their imports, which leaves reflection clients unable to resolve types.
 */
export function loadReflectionPackageDefinition(descriptorSetPath = DEFAULT_DESCRIPTOR_SET_PATH): PackageDefinition {
  const tradeplane = existsSync(descriptorSetPath)
    ? ({ 'tradeplane.descriptor_set': { fileDescriptorProtos: splitDescriptorSet(readFileSync(descriptorSetPath)) } } as unknown as PackageDefinition)
    : {};
  const health = loadFileDescriptorSetFromObject({ file: [HEALTH_FILE_DESCRIPTOR] });
  return { ...tradeplane, ...health, ...reflectionProtoDefinitions() };
}

/** A grpc-js service definition with nice-grpc style handlers, ready for `server.add`. */
export interface ReflectionRegistration {
  name: string;
  definition: ServiceDefinition;
  implementation: Record<string, (requests: AsyncIterable<unknown>) => AsyncIterable<unknown>>;
}

/**
 * The reflection v1 and v1alpha services, answering for exactly `serviceNames` (plus health and reflection
 * themselves), so a client lists what this server really serves.
 */
export function createReflectionServices(
  serviceNames: readonly string[],
  descriptorSetPath = DEFAULT_DESCRIPTOR_SET_PATH,
): ReflectionRegistration[] {
  const services = [...new Set([...serviceNames, HEALTH_SERVICE_NAME, ...REFLECTION_SERVICE_NAMES])];
  const reflection = new ReflectionService(loadReflectionPackageDefinition(descriptorSetPath), { services });
  const registrations: ReflectionRegistration[] = [];
  reflection.addToServer({
    addService(definition: ServiceDefinition, handlers: Record<string, UntypedHandleCall>) {
      const first = Object.values(definition)[0];
      const name = /^\/([^/]+)\//.exec(first?.path ?? '')?.[1] ?? 'unknown';
      const implementation: ReflectionRegistration['implementation'] = {};
      for (const method of Object.keys(definition)) {
        implementation[method] = adaptDuplexHandler(handlers[method] as (stream: EventEmitter) => void);
      }
      registrations.push({ name, definition, implementation });
    },
  });
  return registrations;
}

/**
 * Runs a grpc-js bidi handler that answers each request synchronously with `stream.write` (as @grpc/reflection's
 * do) as a nice-grpc bidi handler: requests go in as 'data' events, written responses come out as yielded values.
 */
function adaptDuplexHandler(handler: (stream: EventEmitter) => void) {
  return async function* (requests: AsyncIterable<unknown>): AsyncIterable<unknown> {
    const written: unknown[] = [];
    const stream = Object.assign(new EventEmitter(), {
      write(message: unknown) {
        written.push(message);
        return true;
      },
      end() {},
    });
    handler(stream);
    for await (const request of requests) {
      stream.emit('data', request);
      yield* written.splice(0);
    }
    stream.emit('end');
    yield* written.splice(0);
  };
}
