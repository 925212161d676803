import Decimal from 'decimal.js';
import { BudgetGuard } from './budget-guard';

// The exact cost of what a request used, in nano-USD rounded up: integer arithmetic where a price is whole in
// pico-USD per token, Decimal otherwise; either way the same answer as Decimal alone.
describe('BudgetGuard.costNanos', () => {
  const pricing = {
    cheap: { input: '0.15', output: '0.6' },
    fractional: { input: '0.075', output: '0.3' },
    costly: { input: '15', output: '75' },
    'many-decimals': { input: '0.1234567891', output: '1.0000000001' },
  };
  const guard = new BudgetGuard(pricing);
  // USD per million tokens → nano-USD: × 1000 per token.
  const exact = (p: { input: string; output: string }, prompt: number, completion: number) =>
    new Decimal(p.input)
      .mul(1000)
      .mul(prompt)
      .add(new Decimal(p.output).mul(1000).mul(completion))
      .toDecimalPlaces(0, Decimal.ROUND_UP)
      .toNumber();

  it.each(Object.keys(pricing) as (keyof typeof pricing)[])('%s: as Decimal computes it', (model) => {
    const counts = [0, 1, 3, 7, 999, 1000, 1001, 123_457, 2_000_000, 987_654_321];
    for (const prompt of counts)
      for (const completion of counts)
        if (prompt + completion > 0)
          expect(guard.costNanos(model, prompt, completion)).toBe(exact(pricing[model], prompt, completion));
  });

  it('costs nothing for no tokens or an unpriced model', () => {
    expect(guard.costNanos('cheap', 0, 0)).toBe(0);
    expect(guard.costNanos('unknown', 10, 10)).toBe(0);
    expect(guard.costNanos(null, 10, 10)).toBe(0);
  });
});
