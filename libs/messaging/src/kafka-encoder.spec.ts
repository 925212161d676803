// kafkajs's encoder, as patched (patches/kafkajs+2.2.4.patch): its buffers are not zero-filled, on the promise that
// every byte it returns was written. Checked by making the unfilled memory loud: a produce batch encoded over
// buffers full of 0xAB is byte for byte the one encoded over zeroed buffers, and decodes to what went in.
import Decoder from 'kafkajs/src/protocol/decoder';
import Record from 'kafkajs/src/protocol/recordBatch/record/v0';
import { RecordBatch } from 'kafkajs/src/protocol/recordBatch/v0';
import decodeRecordBatch from 'kafkajs/src/protocol/recordBatch/v0/decoder';

interface Decoded {
  key: Buffer;
  value: Buffer;
  headers: Record<string, Buffer>;
}

const messages = Array.from({ length: 50 }, (_, i) => ({
  key: Buffer.from(`key_${i}`),
  value: Buffer.from(
    JSON.stringify({ type: 'RequestCompleted', data: { requestId: `req_${i}`, n: 'é'.repeat(i) } }),
  ),
  headers: { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`, 'event-type': 'RequestCompleted' },
}));

const encode = async (fill: number): Promise<Buffer> => {
  const unsafe = jest.spyOn(Buffer, 'allocUnsafe').mockImplementation((n) => Buffer.alloc(n, fill));
  try {
    const records = messages.map((m, i) => Record({ offsetDelta: i, timestampDelta: 0, ...m }));
    const batch = await RecordBatch({ records, firstTimestamp: 1, maxTimestamp: 1, lastOffsetDelta: 49 });
    expect(unsafe).toHaveBeenCalled(); // the patch is applied: the encoder asks for unfilled memory
    return Buffer.from(batch.buffer);
  } finally {
    unsafe.mockRestore();
  }
};

describe('kafkajs encoder without zero-filling', () => {
  it('returns only bytes it wrote: the same batch over 0xAB-filled and zeroed memory, decoding to the input', async () => {
    const loud = await encode(0xab);
    expect(loud.equals(await encode(0))).toBe(true);
    const { records } = (await decodeRecordBatch(new Decoder(loud))) as { records: Decoded[] };
    expect(
      records.map((r) => [r.key.toString(), r.value.toString(), r.headers['event-type'].toString()]),
    ).toEqual(messages.map((m) => [m.key.toString(), m.value.toString(), 'RequestCompleted']));
  });
});
