import type { RequestCompletedData } from '@keygate/contracts';
import type { AdmissionPlan } from '../admission/admission';
import type { UpstreamEndpoint, UpstreamUsage } from './upstream';

/** What a request came to, filled in as it goes: the settlement and the usage event are made from it. */
export interface Outcome {
  // Fastify's request id, which the gateway generates (serve.ts, genReqId), never the client's: the ledger's
  // dedupe key and the limiter's entry.
  requestId: string;
  status: number;
  errorCode: string | null;
  route: string | null;
  provider: string | null;
  upstreamModel: string | null;
  promptTokens: number;
  completionTokens: number;
  streamed: boolean;
  keyId: string | null;
  // What admission charged, until it is settled (once: ProxyService.settle says when).
  charge: AdmissionPlan | null;
  // An admission Redis did not answer in time: it may still run, so the settlement waits for it.
  lateAdmission: Promise<unknown> | null;
}

export const newOutcome = (requestId: string): Outcome => ({
  requestId,
  status: 200,
  errorCode: null,
  route: null,
  provider: null,
  upstreamModel: null,
  promptTokens: 0,
  completionTokens: 0,
  streamed: false,
  keyId: null,
  charge: null,
  lateAdmission: null,
});

export const readUsage = (o: Outcome, usage: UpstreamUsage): Outcome => {
  o.promptTokens = usage.promptTokens;
  o.completionTokens = usage.completionTokens;
  return o;
};

/** The request's one usage event (RequestCompleted), however it ended. */
export const requestCompleted = (
  o: Outcome,
  endpoint: UpstreamEndpoint,
  clientIp: string | null,
  latencyMs: number,
): RequestCompletedData => ({
  requestId: o.requestId,
  keyId: o.keyId,
  route: o.route,
  provider: o.provider,
  upstreamModel: o.upstreamModel,
  endpoint,
  status: o.status,
  outcome: o.status < 400 && !o.errorCode ? 'success' : o.provider === null ? 'rejected' : 'upstream_error',
  errorCode: o.errorCode,
  promptTokens: o.promptTokens,
  completionTokens: o.completionTokens,
  streamed: o.streamed,
  latencyMs,
  clientIp,
  time: new Date().toISOString(),
});
