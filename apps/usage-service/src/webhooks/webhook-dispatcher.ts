import type { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { request } from 'undici';
import { counter, OUTBOUND_FAILURE_TEXT, outboundFailure, type OutboundPolicy } from '@keygate/platform';
import { alertEnvelope, toAlert, type AlertRow } from '../alerts/alert';
import type { AlertService } from '../alerts/alert.service';
import { PollLoop } from '../background/poll-loop';
import { SecretBox } from './secret-box';
import { DELIVERY_HEADER, retryDelayMs, SIGNATURE_HEADER, signPayload } from './webhook-signature';

const attemptsTotal = counter('keygate_usage_webhook_attempts_total', 'Webhook delivery attempts', [
  'result',
]);
const BATCH = 20;

export interface WebhookOptions {
  maxAttempts: number;
  timeoutMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
}

interface Claimed {
  id: string;
  attempts: number;
  url: string;
  secret_ciphertext: string;
  webhook_deleted: boolean;
  alert: AlertRow;
}

// Delivers alerts to the registered webhooks: POST of the AlertRaised envelope, signed (HMAC-SHA256 over timestamp
// and raw body), one row per attempt in webhook_attempts, exponential backoff between attempts, redirects never
// followed (a 3xx is a failed attempt). Deliveries are claimed with a lease, so several instances share the work
// and a crash mid-delivery only delays it: at-least-once, receivers dedupe on x-keygate-delivery.
export class WebhookDispatcher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly loop: PollLoop;

  constructor(
    private readonly db: DataSource,
    private readonly box: SecretBox,
    private readonly options: WebhookOptions,
    alerts: AlertService,
    private readonly outbound: OutboundPolicy,
  ) {
    this.loop = new PollLoop('webhooks', () => this.deliverOnce(), 500);
    alerts.onRaised(() => this.loop.wake());
  }

  onApplicationBootstrap(): void {
    this.loop.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.loop.stop();
  }

  async deliverOnce(): Promise<boolean> {
    const lease = Math.ceil(this.options.timeoutMs / 1000) * 2 + 5;
    const claimed: Claimed[] = await this.db.query(
      `WITH due AS (
         SELECT id FROM webhook_deliveries
         WHERE status = 'pending' AND next_attempt_at <= now() AND (locked_until IS NULL OR locked_until < now())
         ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED
       ), claimed AS (
         UPDATE webhook_deliveries d SET locked_until = now() + make_interval(secs => $2), attempts = attempts + 1
         FROM due WHERE d.id = due.id RETURNING d.id, d.attempts, d.webhook_id, d.alert_id
       )
       SELECT c.id, c.attempts, w.url, w.secret_ciphertext, (w.deleted_at IS NOT NULL) AS webhook_deleted,
              row_to_json(a.*) AS alert
       FROM claimed c JOIN webhooks w ON w.id = c.webhook_id JOIN alerts a ON a.id = c.alert_id`,
      [BATCH, lease],
    );
    await Promise.all(claimed.map((c) => this.deliver(c)));
    return claimed.length === BATCH;
  }

  private async deliver(c: Claimed): Promise<void> {
    if (c.webhook_deleted) {
      await this.db.query(
        `UPDATE webhook_deliveries SET status = 'cancelled', locked_until = NULL WHERE id = $1`,
        [c.id],
      );
      return;
    }
    // row_to_json gives timestamps as strings.
    const ack = c.alert.acknowledged_at;
    const alert = toAlert({
      ...c.alert,
      raised_at: new Date(c.alert.raised_at),
      acknowledged_at: ack ? new Date(ack) : null,
    });
    const body = JSON.stringify(alertEnvelope(alert));
    const started = new Date();
    let statusCode: number | null = null;
    let error: string | null = null;
    try {
      const signature = signPayload(this.box.open(c.secret_ciphertext), Math.floor(Date.now() / 1000), body);
      // undici's request never follows redirects; the policy's dispatcher connects to checked addresses only.
      const res = await request(c.url, {
        dispatcher: this.outbound.dispatcher,
        method: 'POST',
        body,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'keygate-usage-service/webhooks',
          [SIGNATURE_HEADER]: signature,
          [DELIVERY_HEADER]: c.id,
          'x-keygate-event': 'AlertRaised',
        },
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      statusCode = res.statusCode;
      await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
      if (statusCode >= 300 && statusCode < 400) error = 'redirect not followed';
      else if (statusCode >= 400) error = `HTTP ${Math.floor(statusCode / 100)}xx`;
    } catch (e) {
      // The kind of failure only: undici's text names addresses and ports, and a delivery log that echoed it
      // would be a port scanner for whoever can register a webhook.
      error = OUTBOUND_FAILURE_TEXT[outboundFailure(e)];
    }
    const ok = error === null;
    const finalFailure = !ok && c.attempts >= this.options.maxAttempts;
    attemptsTotal.inc({ result: ok ? 'delivered' : finalFailure ? 'failed' : 'retry' });
    await this.db.transaction(async (m) => {
      await m.query(
        `INSERT INTO webhook_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
        [c.id, c.attempts, started, Date.now() - started.getTime(), statusCode, error],
      );
      await m.query(
        `UPDATE webhook_deliveries SET status = $2, last_status_code = $3, last_error = $4, locked_until = NULL,
           delivered_at = CASE WHEN $2 = 'delivered' THEN now() END,
           next_attempt_at = now() + make_interval(secs => $5::double precision / 1000)
         WHERE id = $1`,
        [
          c.id,
          ok ? 'delivered' : finalFailure ? 'failed' : 'pending',
          statusCode,
          error,
          ok || finalFailure
            ? 0
            : retryDelayMs(c.attempts, this.options.backoffBaseMs, this.options.backoffMaxMs),
        ],
      );
    });
    if (!ok && !finalFailure) this.scheduleWake();
  }

  // Short backoffs (tests, small bases) should not wait for the next poll.
  private scheduleWake(): void {
    setTimeout(() => this.loop.wake(), this.options.backoffBaseMs).unref();
  }
}
