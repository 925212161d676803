import { Button, Center, Paper, PasswordInput, Stack, Text, Title } from '@mantine/core';
import { useState, type FormEvent } from 'react';
import { signIn } from '../api/session';

export const SignInPage = ({ reason }: { reason?: string }) => {
  const [token, setToken] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (token.trim()) signIn(token);
  };
  return (
    <Center mih="100vh" component="main">
      <Paper withBorder p="xl" w={420} component="form" onSubmit={submit}>
        <Stack>
          <Title order={1} size="h2">
            keygate console
          </Title>
          <Text c="dimmed" size="sm">
            Sign in with an admin or auditor token. It is kept for this tab only.
          </Text>
          {reason && (
            <Text c="red" size="sm" role="alert">
              {reason}
            </Text>
          )}
          <PasswordInput
            label="Admin token"
            value={token}
            onChange={(e) => setToken(e.currentTarget.value)}
            autoComplete="off"
            required
          />
          <Button type="submit">Sign in</Button>
        </Stack>
      </Paper>
    </Center>
  );
};
