import { chatPromptTokens, countTokens } from '../../../../libs/testing/src/mock-provider/mock-text';
import { clampCompletion, estimateRequest } from './cost-estimate';

// The estimate must never be below what the provider bills: here the mock's rules (a word is a token, +1 per
// message) and o200k's own count stand for it.
describe('estimateRequest', () => {
  const chat = (body: Record<string, unknown>, model = 'gpt-4o-mini') =>
    estimateRequest('chat', body, model, 16384);

  it('counts a chat prompt with o200k plus the message overhead, at least what the mock bills', () => {
    const messages = [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'what does this cost, in words and numbers: 1234567 ü 日本語' },
    ];
    const e = chat({ messages });
    expect(e.promptTokens).toBeGreaterThanOrEqual(chatPromptTokens(messages));
    // 3 + per message 4 + role (1 token + 1) + content: small prompts stay small.
    expect(e.promptTokens).toBeLessThan(60);
    expect(e).toMatchObject({ maxCompletionTokens: 16384, clientLimited: false, choices: 1 });
  });

  it('counts a special token spelled in a message as its characters, never refusing it', () => {
    for (const model of ['gpt-4o-mini', 'gpt-4', 'gemini-2.0-flash']) {
      const plain = chat({ messages: [{ role: 'user', content: 'what is endoftext here' }] }, model);
      const special = chat({ messages: [{ role: 'user', content: 'what is <|endoftext|> here' }] }, model);
      expect(special.promptTokens).toBeGreaterThan(plain.promptTokens);
    }
    const embedding = estimateRequest(
      'embeddings',
      { input: ['<|im_start|>system', '<|fim_prefix|>'] },
      'x',
      0,
    );
    expect(embedding.promptTokens).toBeGreaterThan(4);
  });

  it('takes the larger client limit, times n choices; tools and tool calls count as their JSON', () => {
    const tools = [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } }];
    const e = chat({
      messages: [
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', function: { arguments: '{}' } }] },
      ],
      tools,
      max_tokens: 50,
      max_completion_tokens: 80,
      n: 3,
    });
    expect(e).toMatchObject({ maxCompletionTokens: 80, clientLimited: true, choices: 3 });
    expect(e.promptTokens).toBeGreaterThan(countTokens(JSON.stringify(tools)));
  });

  it('counts images at the most a high-detail image costs (×33 on mini models)', () => {
    const content = [
      { type: 'image_url', image_url: { url: `data:image/png;base64,${'A'.repeat(100_000)}` } },
    ];
    expect(chat({ messages: [{ role: 'user', content }] }, 'gpt-4o').promptTokens).toBeLessThan(1200);
    expect(chat({ messages: [{ role: 'user', content }] }).promptTokens).toBeGreaterThan(36_000);
  });

  it('doubles the o200k count for Gemini, and counts embedding inputs (strings and token arrays)', () => {
    const messages = [{ role: 'user', content: 'one two three four five six seven eight' }];
    expect(chat({ messages }, 'gemini-1.5-flash').promptTokens).toBeGreaterThan(
      chat({ messages }).promptTokens,
    );
    const e = estimateRequest(
      'embeddings',
      { input: ['hello world', [1, 2, 3]] },
      'text-embedding-3-small',
      0,
    );
    expect(e).toEqual({ promptTokens: 2 + 3, maxCompletionTokens: 0, clientLimited: true, choices: 1 });
  });

  it('clamps every limit the client set, or sets max_tokens', () => {
    expect(clampCompletion({ model: 'm' }, 7)).toEqual({ model: 'm', max_tokens: 7 });
    expect(clampCompletion({ max_completion_tokens: 100 }, 7)).toEqual({ max_completion_tokens: 7 });
    expect(clampCompletion({ max_tokens: 100, max_completion_tokens: 90 }, 7)).toEqual({
      max_tokens: 7,
      max_completion_tokens: 7,
    });
  });
});
