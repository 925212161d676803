import { Pricing } from './pricing';

describe('Pricing', () => {
  const pricing = new Pricing({ 'gpt-4o-mini': { input: '0.15', output: '0.60' } });

  it('prices prompt and completion tokens per million, exactly', () => {
    expect(pricing.cost('gpt-4o-mini', 1_000_000, 0)).toBe('0.150000000000');
    expect(pricing.cost('gpt-4o-mini', 7, 3)).toBe('0.000002850000');
  });

  it('does not drift over many small requests', () => {
    let total = 0n;
    for (let i = 0; i < 10_000; i++) total += BigInt(pricing.cost('gpt-4o-mini', 1, 1).replace('.', ''));
    expect(total).toBe(7_500_000_000n); // 10,000 × 0.00000075 USD at 12 places
  });

  it('prices an unknown model at zero and changes version with prices', () => {
    expect(pricing.cost('unknown', 100, 100)).toBe('0');
    expect(new Pricing({ x: { input: '1', output: '1' } }).version).not.toBe(pricing.version);
  });
});
