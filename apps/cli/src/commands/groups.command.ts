import type { Command } from 'commander';
import { usageError } from '../cli-error';
import type { Io } from '../io/io';
import { print, renderDetails, renderTable } from '../io/output';
import { deleteAction, withContext } from './context';
import { budgetText } from './key-view';
import { BUDGET_PERIODS, collect, listOrNone, oneOf, usdArg, type Budget } from './option-parsers';
import { listAction, pagedOptions } from './pages';

interface Group {
  id: string;
  name: string;
  description: string | null;
  routes: string[];
  budget: Budget | null;
  createdAt: string;
  updatedAt: string;
  version: number;
}

interface RouteView {
  name: string;
  targets: { provider: string; model?: string; deployment?: string }[];
}

interface GroupOptions {
  name?: string;
  description?: string;
  route?: string[];
  budgetUsd?: string;
  budgetPeriod?: Budget['period'];
  budget?: boolean; // false with --no-budget (update)
}

const groupPath = (id: string) => `/v1/groups/${encodeURIComponent(id)}`;

const renderGroup = (g: Group): string =>
  renderDetails([
    ['id', g.id],
    ['name', g.name],
    ['description', g.description || null],
    ['routes', g.routes],
    ['budget', budgetText(g.budget) ?? 'none'],
    ['created', g.createdAt],
    ['updated', g.updatedAt],
    ['version', g.version],
  ]);

const groupOptions = (cmd: Command): Command =>
  cmd
    .option('--description <text>')
    .option('--route <route>', 'a route of routes.yaml (keygate routes); repeatable', collect)
    .option('--budget-usd <amount>', 'a spend limit shared by every key of the group, e.g. 250', usdArg)
    .option('--budget-period <period>', 'the budget period: day, week or month', oneOf(BUDGET_PERIODS));

// The budget the options name: the two go together; --no-budget (update) removes it; nothing: undefined.
const budgetOf = (o: GroupOptions): Budget | null | undefined => {
  const given = o.budgetUsd !== undefined || o.budgetPeriod !== undefined;
  if (o.budget === false) {
    if (given) throw usageError('--no-budget cannot be combined with --budget-usd/--budget-period');
    return null;
  }
  if (!given) return undefined;
  if (o.budgetUsd === undefined || o.budgetPeriod === undefined)
    throw usageError(
      '--budget-usd and --budget-period go together, e.g. --budget-usd 250 --budget-period month',
    );
  return { amountUsd: o.budgetUsd, period: o.budgetPeriod };
};

export const registerGroups = (program: Command, io: Io): void => {
  const groups = program.command('groups').description('groups grant routes to their keys');

  pagedOptions(groups.command('list').description('list groups')).action(
    listAction<Group>(io, {
      service: 'key-service',
      path: '/v1/groups',
      pageSize: 200,
      render: (rows) =>
        renderTable<Group>(
          [
            ['ID', (g) => g.id],
            ['NAME', (g) => g.name],
            ['ROUTES', (g) => g.routes],
            ['BUDGET', (g) => budgetText(g.budget)],
            ['DESCRIPTION', (g) => g.description || null],
          ],
          rows,
        ),
    }),
  );

  groups
    .command('show')
    .description('one group')
    .argument('<id>', 'group id (grp_…)')
    .action(
      withContext(io, async (ctx, [id]) => {
        const res = await ctx.keyService().request<Group>('GET', groupPath(id));
        print(ctx.io, ctx.json, res.body, () => renderGroup(res.body));
      }),
    );

  groupOptions(groups.command('create').description('create a group').requiredOption('--name <name>')).action(
    withContext<GroupOptions>(io, async (ctx, _a, o) => {
      const res = await ctx.keyService().request<Group>('POST', '/v1/groups', {
        body: { name: o.name, description: o.description, routes: o.route ?? [], budget: budgetOf(o) },
      });
      print(ctx.io, ctx.json, res.body, () => renderGroup(res.body));
    }),
  );

  groupOptions(
    groups
      .command('update')
      .description('change a group; --route replaces its routes (none empties them)')
      .argument('<id>', 'group id (grp_…)')
      .option('--name <name>'),
  )
    .option('--no-budget', 'remove the group budget')
    .action(
      withContext<GroupOptions>(io, async (ctx, [id], o) => {
        const body = {
          name: o.name,
          description: o.description,
          routes: listOrNone(o.route),
          budget: budgetOf(o),
        };
        if (Object.values(body).every((v) => v === undefined))
          throw usageError(
            'nothing to update: pass --name, --description, --route, --budget-usd or --no-budget',
          );
        const res = await ctx.keyService().request<Group>('PATCH', groupPath(id), { body });
        print(ctx.io, ctx.json, res.body, () => renderGroup(res.body));
      }),
    );

  groups
    .command('delete')
    .description('delete a group (its keys lose its routes)')
    .argument('<id>', 'group id (grp_…)')
    .action(deleteAction(io, groupPath));

  program
    .command('routes')
    .description('the routes of routes.yaml: what a client names in "model", and where it goes')
    .action(
      withContext(io, async (ctx) => {
        const res = await ctx.keyService().request<{ data: RouteView[] }>('GET', '/v1/routes');
        print(ctx.io, ctx.json, res.body, () =>
          renderTable<RouteView>(
            [
              ['ROUTE', (r) => r.name],
              [
                'TARGETS',
                (r) => r.targets.map((t) => `${t.provider}:${t.model ?? t.deployment}`).join(' → '),
              ],
            ],
            res.body.data,
          ),
        );
      }),
    );
};
