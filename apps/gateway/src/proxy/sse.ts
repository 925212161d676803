// Server-sent events, both ways. Upstreams end their lines with \n (OpenAI, Azure) or \r\n (Gemini), and TCP
// may cut anywhere — inside a line, between \r and \n — so the parser keeps state across pushes and follows
// the WHATWG rules: a line ends at \r\n, \n or \r; a blank line dispatches the event; `data:` lines join with \n.

export const DONE_FRAME = 'data: [DONE]\n\n';

/** One OpenAI-style SSE frame; a multi-line payload becomes several `data:` lines, as the spec wants. */
export const sseFrame = (data: string): string =>
  data.includes('\n') || data.includes('\r')
    ? `${data
        .split(/\r\n|\r|\n/)
        .map((line) => `data: ${line}`)
        .join('\n')}\n\n`
    : `data: ${data}\n\n`;

const LINE_END = /\r\n|\r|\n/g;

export class SseParser {
  private buffer = '';
  private data: string[] = [];
  // A chunk that ended with \r: if the next one starts with \n, that \n belongs to the same line break.
  private skipLeadingLf = false;

  /** Feeds decoded text; returns the `data` payloads of the events it completed, in order. */
  push(text: string): string[] {
    if (this.skipLeadingLf && text.startsWith('\n')) text = text.slice(1);
    this.skipLeadingLf = false;
    this.buffer += text;
    const out: string[] = [];
    let start = 0;
    LINE_END.lastIndex = 0;
    for (let m = LINE_END.exec(this.buffer); m; m = LINE_END.exec(this.buffer)) {
      if (m[0] === '\r' && m.index === this.buffer.length - 1) this.skipLeadingLf = true;
      this.line(this.buffer.slice(start, m.index), out);
      start = m.index + m[0].length;
    }
    this.buffer = this.buffer.slice(start);
    return out;
  }

  /** End of stream: a last event without its blank line is still delivered (lenient, as browsers are not). */
  end(): string[] {
    const out: string[] = [];
    if (this.buffer !== '') this.line(this.buffer, out);
    this.buffer = '';
    this.line('', out);
    return out;
  }

  private line(line: string, out: string[]): void {
    if (line === '') {
      if (this.data.length > 0) out.push(this.data.join('\n'));
      this.data = [];
      return;
    }
    if (line.startsWith(':')) return; // comment / keep-alive
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    if (field !== 'data') return; // event, id, retry: no upstream we speak to needs them
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    this.data.push(value);
  }
}
