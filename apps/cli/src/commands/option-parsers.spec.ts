import { InvalidArgumentError } from 'commander';
import {
  budgetArg,
  expiresArg,
  futureArg,
  intArg,
  listOrNone,
  metadataArg,
  orNull,
  pastArg,
  rotationDaysArg,
  dormantDaysArg,
  routeLimitArg,
  usdArg,
} from './option-parsers';
import { keyCandidates } from './keys-leaked.command';
import { generateApiKey } from '@keygate/contracts';

const NOW = Date.parse('2026-03-10T12:00:00.000Z');
const now = () => NOW;

describe('CLI option parsers', () => {
  it('reads budgets as USD per period, and none as no budget', () => {
    expect(budgetArg('25/month')).toEqual({ amountUsd: '25', period: 'month' });
    expect(budgetArg('$0.50/day')).toEqual({ amountUsd: '0.50', period: 'day' });
    expect(budgetArg('100.123456/week')).toEqual({ amountUsd: '100.123456', period: 'week' });
    expect(budgetArg('none')).toBe('none');
    for (const bad of ['25', '25/year', '-1/day', '1.1234567/day', 'abc/month', '25 /month'])
      expect(() => budgetArg(bad)).toThrow(InvalidArgumentError);
  });

  it('reads a USD amount as the API takes it', () => {
    expect(usdArg('250')).toBe('250');
    expect(usdArg('$0.50')).toBe('0.50');
    for (const bad of ['', '-1', '1.1234567', '1e3', 'ten', '25/month'])
      expect(() => usdArg(bad)).toThrow(InvalidArgumentError);
  });

  it('reads per-route limits as route=rpm[/tpm], repeatable; none alone clears them', () => {
    const once = routeLimitArg('gpt-4o=10');
    expect(once).toEqual({ 'gpt-4o': { requestsPerMinute: 10 } });
    expect(routeLimitArg('gpt-4o-mini=20/40000', once)).toEqual({
      'gpt-4o': { requestsPerMinute: 10 },
      'gpt-4o-mini': { requestsPerMinute: 20, tokensPerMinute: 40000 },
    });
    expect(routeLimitArg('gpt-4o=/5000')).toEqual({ 'gpt-4o': { tokensPerMinute: 5000 } });
    expect(routeLimitArg('none', once)).toEqual({});
    for (const bad of [
      'gpt-4o',
      'gpt-4o=',
      'gpt-4o=/',
      '=10',
      'gpt-4o=0',
      'gpt-4o=10/0',
      'gpt-4o=ten',
      'gpt-4o=10000001',
    ])
      expect(() => routeLimitArg(bad)).toThrow(InvalidArgumentError);
  });

  it('reads expiry as a UTC date, a date-time, days from now, or never', () => {
    const expires = expiresArg(now);
    expect(expires('never')).toBe('none');
    expect(orNull(expires('never'))).toBeNull();
    expect(orNull(undefined)).toBeUndefined();
    expect(expires('2027-01-31')).toBe('2027-01-31T00:00:00.000Z');
    expect(expires('2027-01-31T08:30:00')).toBe('2027-01-31T08:30:00.000Z');
    expect(expires('2027-01-31T08:30:00+02:00')).toBe('2027-01-31T06:30:00.000Z');
    expect(expires('30d')).toBe('2026-04-09T12:00:00.000Z');
    for (const bad of ['tomorrow', '2027-13-45', '31/01/2027', '30 d', ''])
      expect(() => expires(bad)).toThrow(InvalidArgumentError);
    expect(futureArg(now)('1d')).toBe('2026-03-11T12:00:00.000Z');
    expect(() => futureArg(now)('never')).toThrow(InvalidArgumentError);
  });

  it('reads --from/--to as instants, Nd counting back', () => {
    expect(pastArg(now)('7d')).toBe('2026-03-03T12:00:00.000Z');
    expect(pastArg(now)('2026-03-01')).toBe('2026-03-01T00:00:00.000Z');
    expect(() => pastArg(now)('last week')).toThrow(InvalidArgumentError);
  });

  it('reads bounded whole numbers only', () => {
    expect(intArg(1, 10)('7')).toBe(7);
    for (const bad of ['0', '11', '1.5', '-3', '1e3', 'ten', ''])
      expect(() => intArg(1, 10)(bad)).toThrow(InvalidArgumentError);
    expect(rotationDaysArg('90')).toBe(90);
    expect(rotationDaysArg('none')).toBe('none');
    expect(() => rotationDaysArg('0')).toThrow(InvalidArgumentError);
  });

  it('collects metadata pairs and lets "none" empty a list', () => {
    expect(metadataArg('b=2', metadataArg('app=billing=x'))).toEqual({ app: 'billing=x', b: '2' });
    expect(() => metadataArg('novalue')).toThrow(InvalidArgumentError);
    expect(listOrNone(['none'])).toEqual([]);
    expect(listOrNone(['10.0.0.0/8'])).toEqual(['10.0.0.0/8']);
    expect(listOrNone(undefined)).toBeUndefined();
  });
});

describe('self-care options', () => {
  it('--dormant-days: N, never (0) or default (cleared to the deployment setting)', () => {
    expect(dormantDaysArg('45')).toBe(45);
    expect(dormantDaysArg('never')).toBe(0);
    expect(dormantDaysArg('default')).toBe('none');
    expect(() => dormantDaysArg('0')).toThrow(InvalidArgumentError);
    expect(() => dormantDaysArg('-3')).toThrow(InvalidArgumentError);
  });

  it('finds each key-shaped string in a text once, and nothing else', () => {
    const [a, b] = [generateApiKey('live'), generateApiKey('test')];
    expect(keyCandidates(`x=${a}\n"${b}", ${a} sk-proj-abc kg_live_short`)).toEqual([a, b]);
    expect(keyCandidates('no keys')).toEqual([]);
  });
});
