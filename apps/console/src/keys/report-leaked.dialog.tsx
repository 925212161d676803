import { Button, Group, Modal, Stack, Table, Text, TextInput, Textarea } from '@mantine/core';
import { useState, type FormEvent } from 'react';
import { errorText, keyService, unwrap } from '../api/clients';
import type { components } from '../api/key-service';
import { ErrorText } from '../shared/error-text';
import { useRefreshKeys } from './keys.hooks';

type LeakReport = components['schemas']['LeakReportResultDto'];

// Every kg_live_/kg_test_-shaped string in what was pasted, each once (the pattern README registers with scanners);
// the key-service decides which are ours, by hash only.
const candidatesOf = (text: string): string[] => [
  ...new Set(text.match(/\bkg_(live|test)_[0-9A-Za-z]{49}\b/g) ?? []),
];

const OUTCOME: Record<string, string> = {
  revoked: 'revoked now',
  already_revoked: 'already revoked',
  left_active: 'ours, left active',
};

// The pasted text lives in this dialog's state only; the answer shows our keys by id and masked key, and of the
// rest only how many there were.
export const ReportLeakedDialog = ({ onClose }: { onClose: () => void }) => {
  const refresh = useRefreshKeys();
  const [text, setText] = useState('');
  const [source, setSource] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [report, setReport] = useState<LeakReport | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const keys = candidatesOf(text).slice(0, 1000);
    if (keys.length === 0) return setError('No kg_live_ or kg_test_ key found in the text.');
    setBusy(true);
    setError(null);
    try {
      setReport(await unwrap(keyService.POST('/v1/keys/leaked', { body: { keys, source } })));
      setText('');
      refresh();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal opened onClose={onClose} title="Report leaked keys" size="lg">
      {report ? (
        <Stack>
          <Text>
            {report.revoked} revoked, {report.alreadyRevoked} already revoked, {report.unknown} not ours.
          </Text>
          <Table aria-label="Leak report">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Key</Table.Th>
                <Table.Th>ID</Table.Th>
                <Table.Th>Outcome</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {report.results
                .filter((r) => r.outcome !== 'unknown')
                .map((r) => (
                  <Table.Tr key={r.index}>
                    <Table.Td ff="monospace">{r.maskedKey}</Table.Td>
                    <Table.Td ff="monospace">{r.keyId}</Table.Td>
                    <Table.Td>{OUTCOME[r.outcome] ?? r.outcome}</Table.Td>
                  </Table.Tr>
                ))}
            </Table.Tbody>
          </Table>
          <Group justify="flex-end">
            <Button onClick={onClose}>Done</Button>
          </Group>
        </Stack>
      ) : (
        <form onSubmit={submit}>
          <Stack>
            <Text size="sm">
              Every key of ours among them is revoked at once, at every gateway. Strings that are not ours are
              only counted.
            </Text>
            <Textarea
              label="Leaked keys"
              description="the keys, or the text they were found in"
              required
              autosize
              minRows={4}
              maxRows={12}
              value={text}
              onChange={(e) => setText(e.currentTarget.value)}
            />
            <TextInput
              label="Source"
              description="where they were found, kept in each key's history"
              required
              maxLength={500}
              value={source}
              onChange={(e) => setSource(e.currentTarget.value)}
            />
            <ErrorText error={error} />
            <Group justify="flex-end">
              <Button variant="default" onClick={onClose}>
                Cancel
              </Button>
              <Button type="submit" color="red" loading={busy}>
                Revoke leaked keys
              </Button>
            </Group>
          </Stack>
        </form>
      )}
    </Modal>
  );
};
