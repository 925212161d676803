import {
  ALERT_RAISED,
  makeEnvelope,
  USAGE_ALERTS_SCHEMA_VERSION,
  type AlertRaisedData,
  type AlertType,
  type EventEnvelope,
} from '@keygate/contracts';

export type AlertSeverity = AlertRaisedData['severity'];

export interface AlertInput {
  type: AlertType;
  keyId: string | null;
  // What the alert is about: the key id, `grp:<groupId>` for a group's budget, or `net:<network>` for a burst of
  // invalid keys from one client network.
  subject: string;
  severity: AlertSeverity;
  message: string;
  details: Record<string, unknown>;
  // No second alert with this key while an earlier one's window is open; null keeps it closed forever (budget
  // thresholds put the period in the key instead).
  dedupeKey: string;
  dedupeSeconds: number | null;
}

export interface AlertRecord {
  id: string;
  eventId: string;
  keyId: string | null;
  subject: string;
  type: AlertType;
  severity: AlertSeverity;
  message: string;
  details: Record<string, unknown>;
  raisedAt: string;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
}

export interface AlertRow {
  id: string;
  event_id: string;
  key_id: string | null;
  subject: string;
  type: AlertType;
  severity: AlertSeverity;
  message: string;
  details: Record<string, unknown>;
  raised_at: Date;
  acknowledged_at: Date | null;
  acknowledged_by: string | null;
}

export const toAlert = (r: AlertRow): AlertRecord => ({
  id: r.id,
  eventId: r.event_id,
  keyId: r.key_id,
  subject: r.subject,
  type: r.type,
  severity: r.severity,
  message: r.message,
  details: r.details,
  raisedAt: r.raised_at.toISOString(),
  acknowledgedAt: r.acknowledged_at?.toISOString() ?? null,
  acknowledgedBy: r.acknowledged_by,
});

// The AlertRaised envelope: the usage.alerts message and, byte for byte, the webhook body. Built from the row
// alone, so a retry or a republish sends exactly the same thing.
export const alertEnvelope = (a: AlertRecord): EventEnvelope<typeof ALERT_RAISED, AlertRaisedData> =>
  makeEnvelope({
    id: a.eventId,
    type: ALERT_RAISED,
    schemaVersion: USAGE_ALERTS_SCHEMA_VERSION,
    source: 'usage-service',
    subject: a.subject,
    time: new Date(a.raisedAt),
    data: {
      alertId: a.id,
      keyId: a.keyId,
      type: a.type,
      severity: a.severity,
      message: a.message,
      details: a.details,
      raisedAt: a.raisedAt,
    },
  });
