import { DONE_FRAME, SseParser, sseFrame } from './sse';

const feed = (pieces: string[]): string[] => {
  const p = new SseParser();
  return [...pieces.flatMap((x) => p.push(x)), ...p.end()];
};

describe('SseParser', () => {
  const streams = {
    lf: 'data: {"a":1}\n\ndata: {"b":2}\n\ndata: [DONE]\n\n',
    crlf: 'data: {"a":1}\r\n\r\ndata: {"b":2}\r\n\r\ndata: [DONE]\r\n\r\n',
    cr: 'data: {"a":1}\r\rdata: {"b":2}\r\rdata: [DONE]\r\r',
  };

  it.each(Object.entries(streams))('splits %s-terminated events whatever the chunk boundaries', (_, text) => {
    const expected = ['{"a":1}', '{"b":2}', '[DONE]'];
    expect(feed([text])).toEqual(expected);
    for (let i = 0; i <= text.length; i++) expect(feed([text.slice(0, i), text.slice(i)])).toEqual(expected);
    for (let i = 0; i < text.length; i++)
      for (let j = i; j <= text.length; j++)
        expect(feed([text.slice(0, i), text.slice(i, j), text.slice(j)])).toEqual(expected);
    expect(feed(text.split(''))).toEqual(expected);
  });

  it('treats \\r at the end of one chunk and \\n at the start of the next as one line break', () => {
    // Were they two, the blank line would dispatch `data: x` before its time and split the event.
    expect(feed(['data: x\r', '\ndata: y\r', '\n\r', '\n'])).toEqual(['x\ny']);
  });

  it('joins multi-line data, skips comments and other fields, strips one leading space only', () => {
    const text = ': keep-alive\nevent: message\nid: 7\ndata:  two spaces\ndata:none\nretry: 10\n\n';
    expect(feed([text])).toEqual([' two spaces\nnone']);
  });

  it('ignores blank lines that end no event and delivers a last event without its blank line', () => {
    expect(feed(['\n\n\ndata: a\n\n\n\n', 'data: b'])).toEqual(['a', 'b']);
  });

  it('returns events as soon as they complete', () => {
    const p = new SseParser();
    expect(p.push('data: 1\n')).toEqual([]);
    expect(p.push('\ndata: 2')).toEqual(['1']);
    expect(p.push('\n\n')).toEqual(['2']);
    expect(p.end()).toEqual([]);
  });
});

describe('sseFrame', () => {
  it('frames a payload, one data line per line', () => {
    expect(sseFrame('{"a":1}')).toBe('data: {"a":1}\n\n');
    expect(sseFrame('a\nb')).toBe('data: a\ndata: b\n\n');
    expect(feed([sseFrame('a\r\nb')])).toEqual(['a\nb']);
    expect(DONE_FRAME).toBe('data: [DONE]\n\n');
  });
});
