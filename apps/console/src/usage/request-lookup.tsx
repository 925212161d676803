import { Button, Group, Paper, Stack, Text, TextInput } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { errorText, unwrap } from '../api/clients';
import { useUsageService } from '../api/config';
import { KeyAsOf } from '../keys/key-as-of';
import { ErrorText } from '../shared/error-text';
import { Facts } from '../shared/facts';
import { usd, when } from '../shared/format';

// "Which restrictions applied to request req_…": the ledger's row for an x-request-id, and the key as it was when
// that request arrived (the row links to GET /v1/keys/:id?at=).
export const RequestLookup = () => {
  const usage = useUsageService();
  const [draft, setDraft] = useState('');
  const [requestId, setRequestId] = useState<string | null>(null);
  const found = useQuery({
    queryKey: ['usage', 'request', requestId],
    enabled: !!usage && !!requestId,
    retry: false,
    queryFn: () =>
      unwrap(usage!.GET('/v1/usage/requests/{requestId}', { params: { path: { requestId: requestId! } } })),
  });
  const r = found.data;
  const link = r?.keyAsOf ? new URL(r.keyAsOf, window.location.origin) : null;
  const keyId = link?.pathname.split('/').pop();
  const at = link?.searchParams.get('at');
  return (
    <Paper withBorder p="sm">
      <Stack gap="xs">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            setRequestId(draft.trim() || null);
          }}
        >
          <Group align="end">
            <TextInput
              label="Find a request"
              description="The x-request-id the gateway answered"
              placeholder="req_…"
              value={draft}
              onChange={(e) => setDraft(e.currentTarget.value)}
              w={360}
            />
            <Button type="submit" variant="default" disabled={!draft.trim()}>
              Look up
            </Button>
          </Group>
        </form>
        <ErrorText error={found.isError ? errorText(found.error) : null} />
        {r && (
          <Facts
            label={`Request ${r.requestId}`}
            rows={[
              ['Request', r.requestId],
              ['Time', when(r.time)],
              ['Key', r.keyId ?? 'none of ours'],
              ['Route', r.route ?? '—'],
              ['Status', `${r.status}${r.errorCode ? ` ${r.errorCode}` : ''}`],
              ['Tokens', `${r.promptTokens} in, ${r.completionTokens} out`],
              ['Cost', usd(r.costUsd)],
              ['Client IP', r.clientIp ?? '—'],
            ]}
          />
        )}
        {r && !r.keyId && (
          <Text size="sm" c="dimmed">
            No key of ours was presented: no restrictions applied.
          </Text>
        )}
        {keyId && at && <KeyAsOf keyId={keyId} at={at} onClose={() => setRequestId(null)} />}
      </Stack>
    </Paper>
  );
};
