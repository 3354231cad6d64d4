// The GitHub pull-request client against GitHub's own API description (@octokit/openapi, api.github.com): GitHub
// cannot be reached from the test machines, so every request the client makes (method, path, query parameters,
// body fields) is checked against the published OpenAPI document instead. Gitea is tested end to end
// (test/forge.test.ts).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ForgeApi } from '../../src/forge/forge-api.js';
import { GitHubPullRequests, githubHeaders } from '../../src/forge/github.js';

interface Recorded {
  method: string;
  path: string;
  body?: Record<string, unknown>;
}

/** A stand-in for ForgeApi that records each request and answers as GitHub documents it. */
function recorder(answers: Record<string, unknown>): { api: ForgeApi; requests: Recorded[] } {
  const requests: Recorded[] = [];
  const api = {
    async request(method: string, path: string, body?: Record<string, unknown>) {
      requests.push({ method, path, body });
      return answers[`${method} ${path.split('?')[0]}`];
    },
  } as unknown as ForgeApi;
  return { api, requests };
}

type Operation = { parameters?: Array<{ name: string; in: string; required?: boolean }>; requestBody?: { content?: Record<string, { schema?: any }> } };

function githubSpec(): { paths: Record<string, Record<string, Operation>> } {
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve('@octokit/openapi/package.json'));
  return JSON.parse(readFileSync(join(root, 'generated', 'api.github.com.deref.json'), 'utf8'));
}

/** The documented operation a concrete request is an instance of. */
function operationOf(spec: ReturnType<typeof githubSpec>, request: Recorded): { template: string; operation: Operation } {
  const [path] = request.path.split('?');
  for (const [template, methods] of Object.entries(spec.paths)) {
    const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
    if (pattern.test(path!) && methods[request.method.toLowerCase()]) return { template, operation: methods[request.method.toLowerCase()]! };
  }
  throw new Error(`${request.method} ${path} is not in GitHub's API description`);
}

function bodySchema(operation: Operation): { properties: Record<string, unknown>; required: string[] } {
  const schema = operation.requestBody?.content?.['application/json']?.schema ?? {};
  const variants = schema.oneOf ?? schema.anyOf ?? [schema];
  const properties = Object.assign({}, ...variants.map((v: any) => v.properties ?? {}));
  return { properties, required: schema.required ?? variants[0]?.required ?? [] };
}

describe('the GitHub client against GitHub’s OpenAPI description', function () {
  this.timeout(60_000);
  const spec = githubSpec();
  const pull = { number: 7, html_url: 'https://github.com/org/app/pull/7' };
  const { api, requests } = recorder({
    'GET /repos/org/app': { default_branch: 'main' },
    'GET /repos/org/app/pulls': [pull],
    'POST /repos/org/app/pulls': pull,
    'PATCH /repos/org/app/pulls/7': pull,
  });

  before(async () => {
    const pulls = new GitHubPullRequests(api, 'org/app');
    assert.equal(await pulls.defaultBranch(), 'main');
    assert.deepEqual(await pulls.findOpen('feature/x', 'main'), { number: 7, url: pull.html_url });
    await pulls.create('feature/x', 'main', { title: 'T', body: 'B', draft: true });
    await pulls.update(7, 'main', { title: 'T2', body: 'B2', draft: false });
  });

  it('makes only documented requests: each method and path is an operation of the API', () => {
    assert.equal(requests.length, 4);
    const templates = requests.map((r) => `${r.method} ${operationOf(spec, r).template}`);
    assert.deepEqual(templates, ['GET /repos/{owner}/{repo}', 'GET /repos/{owner}/{repo}/pulls', 'POST /repos/{owner}/{repo}/pulls', 'PATCH /repos/{owner}/{repo}/pulls/{pull_number}']);
  });

  it('sends only documented query parameters, and the head filter in its documented owner:branch form', () => {
    for (const request of requests) {
      const query = new URLSearchParams(request.path.split('?')[1] ?? '');
      const documented = (operationOf(spec, request).operation.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
      for (const name of query.keys()) assert.ok(documented.includes(name), `${request.method} ${request.path}: query ${name} is not documented (${documented.join(', ')})`);
    }
    const list = new URLSearchParams(requests[1]!.path.split('?')[1]);
    assert.equal(list.get('head'), 'org:feature/x');
    assert.equal(list.get('state'), 'open');
  });

  it('sends only documented body fields, and every required one', () => {
    for (const request of requests.filter((r) => r.body)) {
      const { properties, required } = bodySchema(operationOf(spec, request).operation);
      for (const field of Object.keys(request.body!)) assert.ok(field in properties, `${request.method} ${request.path}: body field ${field} is not documented`);
      for (const field of required) assert.ok(field in request.body!, `${request.method} ${request.path}: required body field ${field} is missing`);
    }
  });

  it('sends the documented API version header', () => {
    const headers = githubHeaders('t');
    assert.equal(headers['X-GitHub-Api-Version'], '2022-11-28');
    assert.equal(headers.Accept, 'application/vnd.github+json');
  });
});
