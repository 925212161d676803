import { Metadata, status } from '@grpc/grpc-js';
import { Catch, HttpException, Logger, type RpcExceptionFilter } from '@nestjs/common';
import { type Observable, throwError } from 'rxjs';
import { DEPENDENCY_UNAVAILABLE, isDependencyUnavailable } from '@keygate/platform';
import { isDomainError } from '../domain-errors';
import { grpcStatusOf } from './grpc-status';

export interface GrpcError {
  code: status;
  details: string;
  metadata: Metadata;
}

const HTTP_TO_GRPC: Record<number, [status, string]> = {
  400: [status.INVALID_ARGUMENT, 'VALIDATION_FAILED'],
  401: [status.UNAUTHENTICATED, 'UNAUTHENTICATED'],
  403: [status.PERMISSION_DENIED, 'FORBIDDEN'],
  404: [status.NOT_FOUND, 'NOT_FOUND'],
  409: [status.ALREADY_EXISTS, 'CONFLICT'],
  412: [status.FAILED_PRECONDITION, 'VERSION_CONFLICT'],
  422: [status.INVALID_ARGUMENT, 'UNPROCESSABLE'],
  429: [status.RESOURCE_EXHAUSTED, 'RATE_LIMITED'],
};

// The gRPC twin of ManagementErrorFilter: status + "CODE: message", the code also in the `error-code` trailer.
// Messages are the domain's own (never a secret); anything unexpected becomes INTERNAL without detail.
@Catch()
export class GrpcExceptionFilter implements RpcExceptionFilter<unknown> {
  private readonly logger = new Logger('grpc-errors');

  catch(exception: unknown): Observable<never> {
    const [code, errorCode, message] = this.classify(exception);
    const metadata = new Metadata();
    metadata.set('error-code', errorCode);
    const error: GrpcError = { code, details: `${errorCode}: ${message}`, metadata };
    return throwError(() => error);
  }

  private classify(exception: unknown): [status, string, string] {
    if (isDomainError(exception)) return [grpcStatusOf(exception.code), exception.code, exception.message];
    if (exception instanceof HttpException) {
      const [code, errorCode] = HTTP_TO_GRPC[exception.getStatus()] ?? [status.UNKNOWN, 'ERROR'];
      return [code, errorCode, exception.message];
    }
    if (isDependencyUnavailable(exception))
      return [status.UNAVAILABLE, DEPENDENCY_UNAVAILABLE.code, DEPENDENCY_UNAVAILABLE.message];
    this.logger.error({ err: exception }, 'gRPC call failed');
    return [status.INTERNAL, 'INTERNAL', 'internal error'];
  }
}
