// Alerts on usage.alerts, produced by usage-service (message key: the key id, `grp:<groupId>` for a group's budget,
// or `net:<network>` for alerts about a client network; `ip:<address>` on auth_failure_burst alerts raised before
// invalid_key_burst existed).
// The same envelope is the body of usage-service's signed webhooks.
export const ALERT_RAISED = 'AlertRaised' as const;
export const USAGE_ALERTS_SCHEMA_VERSION = 1;

export const ALERT_TYPES = [
  'budget_threshold',
  'request_spike',
  'cost_spike',
  'auth_failure_burst',
  'new_network',
  'dormant_key_used',
  'key_dormant_suspended',
  'rotation_due',
  'rotation_overdue',
  'invalid_key_burst',
] as const;
export type AlertType = (typeof ALERT_TYPES)[number];

export interface AlertRaisedData {
  alertId: string;
  keyId: string | null;
  type: AlertType;
  severity: 'info' | 'warning' | 'critical';
  message: string;
  details: Record<string, unknown>;
  raisedAt: string;
}
