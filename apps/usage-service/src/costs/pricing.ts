import { createHash } from 'node:crypto';
import Decimal from 'decimal.js';
import type { Price } from '@keygate/platform';

// Exact decimal cost: USD per 1M tokens × tokens, no float anywhere.
export class Pricing {
  readonly version: string;

  constructor(private readonly prices: Record<string, Price>) {
    this.version = `pricing:${createHash('sha256').update(JSON.stringify(prices)).digest('hex').slice(0, 12)}`;
  }

  cost(model: string | null, promptTokens: number, completionTokens: number): string {
    const price = model ? this.prices[model] : undefined;
    if (!price) return '0';
    return new Decimal(price.input)
      .mul(promptTokens)
      .add(new Decimal(price.output).mul(completionTokens))
      .div(1_000_000)
      .toFixed(12);
  }
}
