import { AppShell, Badge, Button, Group, Loader, NavLink, Text, Title } from '@mantine/core';
import { useQueryClient } from '@tanstack/react-query';
import { useEffect, type ReactNode } from 'react';
import { errorText } from './api/clients';
import { useConsoleConfig } from './api/config';
import { signOut, useToken } from './api/session';
import { SignInPage } from './auth/sign-in.page';
import { AdminTokensPage } from './admin/admin-tokens.page';
import { AlertsPage } from './admin/alerts.page';
import { AuditPage } from './admin/audit.page';
import { HygienePage } from './admin/hygiene.page';
import { WebhooksPage } from './admin/webhooks.page';
import { GroupsPage } from './groups/groups.page';
import { KeysPage } from './keys/keys.page';
import { ProvidersPage } from './providers/providers.page';
import { navigate, useRoute } from './shared/route';
import { UsagePage } from './usage/usage.page';

const PAGES: { path: string; label: string; render: (rest: string[]) => ReactNode }[] = [
  { path: 'keys', label: 'Keys', render: (rest) => <KeysPage openKeyId={rest[0]} /> },
  { path: 'groups', label: 'Groups', render: () => <GroupsPage /> },
  { path: 'providers', label: 'Providers', render: () => <ProvidersPage /> },
  { path: 'usage', label: 'Usage', render: () => <UsagePage /> },
  { path: 'alerts', label: 'Alerts', render: () => <AlertsPage /> },
  { path: 'webhooks', label: 'Webhooks', render: () => <WebhooksPage /> },
  { path: 'hygiene', label: 'Key hygiene', render: () => <HygienePage /> },
  { path: 'admin-tokens', label: 'Admin tokens', render: () => <AdminTokensPage /> },
  { path: 'audit', label: 'Audit log', render: () => <AuditPage /> },
];

export const App = () => {
  const token = useToken();
  const queryClient = useQueryClient();
  // Signing out (or a 401) drops every cached answer: the next token starts from nothing.
  useEffect(() => {
    if (!token) queryClient.clear();
  }, [token, queryClient]);
  return token ? <Console /> : <SignInPage />;
};

const Console = () => {
  const config = useConsoleConfig();
  const [first, ...rest] = useRoute();
  const page = PAGES.find((p) => p.path === first) ?? PAGES[0];
  if (config.isPending) return <Loader aria-label="Loading" m="xl" />;
  if (config.isError) return <SignInPage reason={errorText(config.error)} />;
  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 220, breakpoint: 'sm' }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Group>
            <Text fw={700}>keygate</Text>
            <Badge variant="filled" color={config.data.role === 'admin' ? 'blue' : 'gray'}>
              {config.data.role}
            </Badge>
          </Group>
          <Button variant="subtle" onClick={signOut}>
            Sign out
          </Button>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" component="nav" aria-label="Console sections">
        {PAGES.map((p) => (
          <NavLink
            key={p.path}
            href={`#/${p.path}`}
            label={p.label}
            active={p.path === page.path}
            aria-current={p.path === page.path ? 'page' : undefined}
            onClick={(e) => {
              e.preventDefault();
              navigate(p.path);
            }}
          />
        ))}
      </AppShell.Navbar>
      <AppShell.Main>
        <Title order={1} size="h2" mb="md">
          {page.label}
        </Title>
        {page.render(rest)}
      </AppShell.Main>
    </AppShell>
  );
};
