import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProofgateError } from '../../../core/errors';
import { declaredBodyLength } from '../../../workers/hub/model-upload';
import { readBodyLimited } from '../../../workers/http/request-body';

// A request body must be refused on its declared size before a byte is read, and cut off at the cap
// when it declares none (chunked) or lies.

function request(chunks: number, chunkBytes: number, contentLength?: number) {
  const seen = { pulled: 0, cancelled: false };
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        seen.pulled++;
        controller.enqueue(new Uint8Array(chunkBytes).fill(1));
        if (seen.pulled === chunks) controller.close();
      },
      cancel() {
        seen.cancelled = true;
      },
      // No chunk is pulled until someone reads.
    },
    { highWaterMark: 0 },
  );
  const headers = contentLength === undefined ? {} : { 'content-length': String(contentLength) };
  return { seen, req: new Request('http://gateway.test/', { method: 'POST', body, headers, duplex: 'half' } as RequestInit) };
}

async function refusal(promise: Promise<unknown> | (() => unknown)): Promise<ProofgateError> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (err) {
    assert.ok(err instanceof ProofgateError, String(err));
    return err;
  }
  assert.fail('expected a refusal');
}

describe('readBodyLimited', () => {
  it('refuses a body whose Content-Length is over the cap without reading it', async () => {
    const { req, seen } = request(10, 1000, 10_000);
    const err = await refusal(readBodyLimited(req, 2_000));
    assert.equal(err.status, 413);
    assert.equal(err.code, 'payload_too_large');
    assert.equal(seen.pulled, 0);
  });

  it('stops reading a body without Content-Length once it passes the cap', async () => {
    const { req, seen } = request(10, 1000);
    const err = await refusal(readBodyLimited(req, 2_500));
    assert.equal(err.status, 413);
    assert.ok(seen.pulled <= 4, `read ${seen.pulled} chunks`);
    assert.equal(seen.cancelled, true);
  });

  it('returns a body within the cap', async () => {
    const { req } = request(3, 1000, 3000);
    assert.equal((await readBodyLimited(req, 3_000)).byteLength, 3_000);
  });
});

describe('declaredBodyLength (model uploads)', () => {
  describe('needs a Content-Length, non-zero and within the limit, and reads nothing', () => {
    for (const [length, status, code] of [
      [undefined, 411, 'length_required'],
      [0, 400, 'invalid_model'],
      [5_000, 413, 'payload_too_large'],
    ] as const) {
      it(`Content-Length ${length}: ${status} ${code}, nothing read`, async () => {
        const { req, seen } = request(5, 1000, length);
        const err = await refusal(() => declaredBodyLength(req, 4_000));
        assert.equal(err.status, status);
        assert.equal(err.code, code);
        assert.equal(seen.pulled, 0);
      });
    }

    it('answers the declared length within the limit', () => {
      assert.equal(declaredBodyLength(request(4, 1000, 4_000).req, 4_000), 4_000);
    });
  });
});
