// limits-probe: a newton:provider@0.2.0 component that misbehaves on request, to show the
// sandbox's bounds: its wasm_args say what to do (`mode`). Test-only; built by build.ts.
import { fetch as httpFetch } from 'newton:provider/http@0.2.0';
import { get as getHostSecrets } from 'newton:provider/secrets@0.2.0';
import { verifyFromCid } from 'newton:provider/tlsn@0.2.0';

const PACK_ID = 'probe';

function wrapOutput(value) {
  return JSON.stringify({ [PACK_ID]: value });
}

function spin() {
  let n = 0;
  for (;;) n = (n + 1) % 1024;
}

function allocate() {
  const kept = [];
  for (;;) kept.push(new Array(1 << 16).fill(kept.length));
}

export function run(input) {
  const { mode, url } = JSON.parse(input);
  switch (mode) {
    case 'loop':
      return spin();
    case 'allocate':
      return allocate();
    case 'fetch': {
      const response = httpFetch({ url, method: 'GET', headers: [], body: undefined });
      return wrapOutput({ status: response.status, body: new TextDecoder().decode(new Uint8Array(response.body)) });
    }
    case 'secrets': {
      const { value } = getHostSecrets();
      return wrapOutput({ names: Object.keys(JSON.parse(new TextDecoder().decode(new Uint8Array(value)))).sort() });
    }
    case 'tlsn':
      return wrapOutput({ verified: verifyFromCid('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy') });
    case 'environment': {
      const started = performance.now();
      const random = [Math.random(), Math.random()];
      const bytes = Array.from(crypto.getRandomValues(new Uint8Array(4)));
      console.log('probe log line');
      return wrapOutput({ now: Date.now(), random, bytes, elapsed: performance.now() - started });
    }
    case 'fail':
      throw 'the probe was asked to fail';
    case 'throw':
      throw new Error('the probe threw');
    case 'not-json':
      return 'not json';
    case 'array':
      return '[1, 2, 3]';
    default:
      return wrapOutput({ mode });
  }
}
