import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { LocalStackFile } from '../../local-stack/stack-file';
import { call } from '../support/gateway-client';
import { sharedStack } from '../support/test-stack';

// /openapi.json is generated from the route table itself (router.routes, which `GET /` lists too) and
// from the zod schemas the routes validate with: every route must be there, described.

let stack: LocalStackFile;
let doc: any;
before(async () => {
  stack = await sharedStack();
  const res = await call(`${stack.gateway}/openapi.json`);
  assert.equal(res.status, 200);
  doc = res.body;
});

describe('OpenAPI description', () => {
  it('is OpenAPI 3.1 and describes every route of the route table', async () => {
    assert.equal(doc.openapi, '3.1.0');
    const index = await call(`${stack.gateway}/`, { headers: { accept: 'application/json' } });
    const endpoints: string[] = index.body.endpoints;
    assert.ok(endpoints.length > 20, 'the index lists the route table');
    const missing = endpoints
      .map((e) => e.replace(/ \(.*\)$/, ''))
      .filter((e) => {
        const [method, path] = e.split(' ') as [string, string];
        return !doc.paths[path]?.[method.toLowerCase()];
      });
    assert.deepEqual(missing, [], 'routes missing from /openapi.json');
    assert.deepEqual(doc['x-undocumented-routes'] ?? [], [], 'routes without a description in workers/openapi/route-docs.ts');
    for (const [path, ops] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(ops)) {
        assert.ok(op.summary && op.summary !== `${method.toUpperCase()} ${path}`, `${method} ${path} has a summary`);
        assert.ok(Object.keys(op.responses).length > 0, `${method} ${path} has responses`);
        for (const name of path.match(/\{(\w+)\}/g) ?? []) {
          assert.ok(
            op.parameters?.some((p: any) => p.in === 'path' && `{${p.name}}` === name),
            `${method} ${path} declares ${name}`,
          );
        }
      }
    }
  });

  it('takes request bodies from the zod schemas the routes validate with', () => {
    const intent = doc.paths['/v1/intents'].post.requestBody.content['application/json'].schema;
    assert.deepEqual(intent.required.sort(), ['intent', 'policyId']);
    assert.equal(intent.properties.policyId.pattern, '^0x[0-9a-fA-F]{64}$');
    assert.equal(intent.properties.waitMs.maximum, 30000);
    const policy = doc.paths['/v1/policies'].post.requestBody.content['application/json'].schema;
    assert.ok(policy.properties.modules && policy.properties.entrypoint);
    const heartbeat = doc.paths['/v1/backends/heartbeat'].post.requestBody.content['application/json'].schema;
    assert.ok(heartbeat.properties.heartbeat.properties.inFlight);
    const infer = doc.paths['/v1/models/{name}/infer'].post;
    assert.ok(infer.requestBody.content['application/vnd.proofgate.tensors']);
    assert.ok(infer.responses['402']);
  });

  it('describes what the gateway answers now: v2 receipts, metered publishing, consume consent, operators on chain', () => {
    const receipt = doc.paths['/v1/receipts/{requestId}'].get.responses['200'].content['application/json'].schema;
    for (const field of [
      'policyId',
      'runMs',
      'priceBase',
      'pricePerMs',
      'priceCap',
      'charged',
      'paymentScheme',
      'paymentNetwork',
      'paymentAsset',
      'payer',
      'paymentNonce',
    ])
      assert.ok(receipt.properties[field], `receipt.${field}`);
    const reply = doc.paths['/v1/models/{name}/infer'].post.responses['200'].content['application/json'].schema;
    assert.deepEqual(Object.keys(reply.properties.payment.properties).sort(), ['charged', 'id', 'maxAmount', 'scheme', 'state', 'transaction']);
    for (const path of ['/v1/models/{name}/versions', '/v1/models/{name}/uploads/{uploadId}/complete']) {
      const query = doc.paths[path].post.parameters.filter((p: any) => p.in === 'query').map((p: any) => p.name);
      for (const name of ['price', 'pricing', 'ratePerMs', 'base', 'cap', 'settlement']) assert.ok(query.includes(name), `${path} ?${name}`);
    }
    const listed = doc.paths['/v1/models'].get.responses['200'].content['application/json'].schema.properties.models.items;
    for (const field of ['pricing', 'ratePerMs', 'base']) assert.ok(listed.properties[field], `listing ${field}`);
    const consume = doc.paths['/v1/attestations/consume'].post;
    assert.ok(consume.requestBody.content['application/json'].schema.properties.consent, 'the consent in the body');
    for (const [status, code] of [
      ['401', 'consume_consent_required'],
      ['401', 'stale_consume_consent'],
      ['403', 'not_policy_client'],
      ['422', 'attestation_unbound'],
    ] as const)
      assert.match(consume.responses[status].description, new RegExp(code));
    assert.match(doc.paths['/v1/intents'].post.responses['429'].description, /rate_limited/);
    assert.ok(doc.paths['/v1/payments/{id}/result'].get.responses['404']);
    assert.equal(doc.paths['/v1/operators/{id}/stake'], undefined, 'stakes live on chain');
    const operators = doc.paths['/v1/operators'].get.responses['200'].content['application/json'].schema;
    assert.ok(operators.properties.registry && operators.properties.operators.items.properties.node);
    const task = doc.paths['/v1/tasks/{taskId}'].get.responses['200'].content['application/json'].schema;
    assert.ok(task.properties.registry && task.properties.registryBlock && task.properties.attestation);
  });

  it('describes the Open Inference Protocol (KServe v2) routes', () => {
    const infer = doc.paths['/v2/models/{name}/infer'].post;
    assert.equal(infer.tags[0], 'open inference protocol');
    assert.ok(infer.requestBody.content['application/json'].schema.properties.inputs);
    for (const path of [
      '/v2',
      '/v2/health/live',
      '/v2/health/ready',
      '/v2/models/{name}',
      '/v2/models/{name}/ready',
      '/v2/models/{name}/versions/{version}/infer',
    ])
      assert.ok(doc.paths[path], path);
  });

  it('marks admin and operator routes with their bearer token', () => {
    assert.deepEqual(doc.paths['/v1/policies'].post.security, [{ admin: [] }]);
    assert.deepEqual(doc.paths['/v1/backends/register'].post.security, [{ operator: [] }]);
    assert.equal(doc.paths['/v1/models'].get.security, undefined);
    assert.equal(doc.components.securitySchemes.admin.scheme, 'bearer');
  });
});
