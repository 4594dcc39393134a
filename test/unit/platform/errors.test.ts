import { expect } from "chai";
import { Status } from "nice-grpc-common";
import {
  aborted,
  alreadyExists,
  DomainError,
  failedPrecondition,
  invalid,
  isDomainError,
  notFound,
  permissionDenied,
  resourceExhausted,
  unauthenticated,
  unavailable,
} from "../../../services/platform/errors";
import { errorDomainOf, isConnectionError, statusOfKind, toRichServerError } from "../../../services/platform/error-mapping";

describe("platform domain errors and their mapping", () => {
  it("gives each constructor its kind and each kind its gRPC status", () => {
    const cases: [DomainError, Status][] = [
      [invalid("BAD_QUANTITY", "m"), Status.INVALID_ARGUMENT],
      [notFound("ORDER_NOT_FOUND", "m"), Status.NOT_FOUND],
      [alreadyExists("IDEMPOTENCY_KEY_REUSED", "m"), Status.ALREADY_EXISTS],
      [failedPrecondition("ORDER_FILLED", "m"), Status.FAILED_PRECONDITION],
      [aborted("VERSION_CONFLICT", "m"), Status.ABORTED],
      [resourceExhausted("TOO_MANY_STREAMS", "m"), Status.RESOURCE_EXHAUSTED],
      [unavailable("PRICE_FEED_DOWN", "m"), Status.UNAVAILABLE],
      [permissionDenied("NOT_YOURS", "m"), Status.PERMISSION_DENIED],
      [unauthenticated("TOKEN_MISSING", "m"), Status.UNAUTHENTICATED],
    ];
    for (const [error, status] of cases) {
      expect(isDomainError(error)).to.equal(true);
      expect(statusOfKind(error.kind), error.kind).to.equal(status);
      expect(toRichServerError(error, "tradeplane").code).to.equal(status);
    }
  });

  it("refuses a code that is not UPPER_SNAKE, since clients switch on it", () => {
    expect(() => invalid("bad-code", "m")).to.throw(TypeError, /UPPER_SNAKE/);
  });

  it("keeps the cause for logs but out of the client message and details", () => {
    const cause = new Error("duplicate key value violates unique constraint orders_pkey");
    const error = alreadyExists("ORDER_EXISTS", "the order exists", { cause });
    expect(error.cause).to.equal(cause);
    const wire = toRichServerError(error, "tradeplane.orders");
    expect(wire.details).to.equal("the order exists");
    expect(JSON.stringify(wire.extra)).not.to.contain("orders_pkey");
  });

  it("names the error domain after the service package of the method", () => {
    expect(errorDomainOf("/tradeplane.orders.v1.OrderService/SubmitOrder")).to.equal("tradeplane.orders");
    expect(errorDomainOf("/grpc.health.v1.Health/Check")).to.equal("tradeplane");
  });

  it("recognises database connection failures however pg and knex wrap them", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
    expect(isConnectionError(new AggregateError([refused], ""))).to.equal(true);
    expect(isConnectionError(new Error("query failed", { cause: refused }))).to.equal(true);
    expect(isConnectionError(Object.assign(new Error("Knex: Timeout acquiring a connection. The pool is probably full."), { name: "KnexTimeoutError" }))).to.equal(true);
    expect(isConnectionError(Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" }))).to.equal(true);
    expect(isConnectionError(Object.assign(new Error('relation "orders" does not exist'), { code: "42P01" }))).to.equal(false);
  });
});
