// The call context handlers see on every call, and the base of the contexts of calls served straight on grpc-js
// (unary in grpc-server-unary.ts, server-streaming in grpc-server-stream.ts): metadata converted between grpc-js and
// nice-grpc only when a handler reads or writes it, and the header lookups the platform steps make without a copy.
import * as grpc from '@grpc/grpc-js';
import type { TextMapGetter } from '@opentelemetry/api';
import { Metadata, ServerError, Status } from 'nice-grpc-common';
import { ANONYMOUS_PRINCIPAL, type AuthCallContext, type Principal } from './auth';
import type { ShutdownCallContext } from './shutdown-middleware';

/**
 * What every application handler finds on its call context (besides `signal`, `metadata`, ...). The context of a
 * unary call builds its parts on first read: pass it on or read its members, but do not spread it (`{ ...context }`).
 */
export type TradeplaneCallContext = AuthCallContext & ShutdownCallContext;

export function callEndedBeforeStart(): ServerError {
  return new ServerError(Status.CANCELLED, 'the call was cancelled or its deadline passed before it started');
}

/**
 * What the call contexts of calls served straight on grpc-js share: the caller's metadata converted when first read,
 * the headers and trailers a handler writes, sent once. Built per call, so nothing is allocated until it is used.
 */
export abstract class GrpcJsCallContext<Call extends grpc.ServerWritableStream<unknown, unknown> | grpc.ServerUnaryCall<unknown, unknown>> {
  principal: Principal = ANONYMOUS_PRINCIPAL;
  private metadataRead: Metadata | undefined;
  private headerWritten: Metadata | undefined;
  private trailerWritten: Metadata | undefined;
  private headerSent = false;

  constructor(protected readonly call: Call) {}

  get metadata(): Metadata {
    this.metadataRead ??= metadataFromGrpcJs(this.call.metadata);
    return this.metadataRead;
  }

  get peer(): string {
    return this.call.getPeer();
  }

  get header(): Metadata {
    this.headerWritten ??= Metadata();
    return this.headerWritten;
  }

  get trailer(): Metadata {
    this.trailerWritten ??= Metadata();
    return this.trailerWritten;
  }

  sendHeader(): void {
    if (this.headerSent) return;
    this.headerSent = true;
    if (this.headerWritten !== undefined && !isEmpty(this.headerWritten)) {
      this.call.sendMetadata(metadataToGrpcJs(this.headerWritten));
    }
  }

  protected trailerToSend(): grpc.Metadata | undefined {
    return this.trailerWritten === undefined ? undefined : metadataToGrpcJs(this.trailerWritten);
  }
}

function isEmpty(metadata: Metadata): boolean {
  for (const _entry of metadata) return false;
  return true;
}

/** The same copy nice-grpc makes of incoming metadata (multiple text values joined, binary ones kept apart). */
function metadataFromGrpcJs(source: grpc.Metadata): Metadata {
  const metadata = Metadata();
  for (const key of Object.keys(source.getMap())) metadata.set(key, source.get(key) as string[] | Uint8Array[]);
  return metadata;
}

function metadataToGrpcJs(source: Metadata): grpc.Metadata {
  const metadata = new grpc.Metadata();
  for (const [key, values] of source) {
    for (const value of values) metadata.add(key, typeof value === 'string' ? value : Buffer.from(value));
  }
  return metadata;
}

/** A text header as nice-grpc's Metadata.get would give it. */
export function headerOf(metadata: grpc.Metadata, key: string): string | undefined {
  const values = metadata.get(key);
  if (values.length === 0) return undefined;
  return values.length === 1 ? String(values[0]) : values.join(', ');
}

/** What the server span reads of a grpc-js call, unary or server-streaming. */
type IncomingCall = { readonly metadata: grpc.Metadata; getPeer(): string };

/** The W3C trace headers (`traceparent`, `tracestate`) of a grpc-js call. */
export const callTraceHeaders: TextMapGetter<IncomingCall> = {
  get: (call, key) => headerOf(call.metadata, key),
  keys: (call) => Object.keys(call.metadata.getMap()),
};

/** The remote address of a grpc-js call, for the server span. */
export const peerOfCall = (call: IncomingCall): string => call.getPeer();
