// Regenerates the clients' files from the server's OpenAPI document (`npm run generate`):
//   sdk/js/src/schema.d.ts            the JavaScript SDK's types (openapi-typescript)
//   sdk/postman/postman-collection.json  the Postman collection (openapi-to-postmanv2), with a login
//                                      request that stores the token and a documented-status test on
//                                      every request
// The tests fail when either no longer matches the document. The converter fakes the values of the
// collection's example responses afresh each run, so the collection is rewritten only when its
// requests (or their documented statuses) change.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';

import openapiTS, { astToString } from 'openapi-typescript';
import Converter from 'openapi-to-postmanv2';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
export const SCHEMA_TYPES = join(ROOT, 'sdk/js/src/schema.d.ts');
export const COLLECTION = join(ROOT, 'sdk/postman/postman-collection.json');

/** The python of the project's virtual environment (NCRSH_PYTHON overrides). */
function python() {
  return process.env.NCRSH_PYTHON || join(ROOT, '.venv/bin/python');
}

/** The server's OpenAPI document, as `manage.py spectacular` writes it. */
export function openapi() {
  const text = execFileSync(python(), ['manage.py', 'spectacular', '--format', 'openapi-json'], {
    cwd: ROOT,
    env: { ...process.env, NCRSH_HOME: process.env.NCRSH_HOME || join(ROOT, 'var') },
    maxBuffer: 64 << 20,
  });
  return JSON.parse(text.toString());
}

/** The text of schema.d.ts for `document`. */
export async function schemaTypes(document) {
  const header = '// Generated from the server\'s OpenAPI document by `npm run generate`: do not edit.\n';
  return header + astToString(await openapiTS(document, { alphabetize: true }));
}

/** Drop the random ids the converter gives every item, response and the collection. */
function withoutIds(value) {
  if (Array.isArray(value)) return value.map(withoutIds);
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => key !== 'id' && key !== '_postman_id')
      .map(([key, inner]) => [key, withoutIds(inner)]),
  );
}

async function convert(document) {
  const options = {
    folderStrategy: 'Tags',
    requestNameSource: 'Fallback',
    parametersResolution: 'Example',
    enableOptionalParameters: false,
    alwaysInheritAuthentication: true,
    includeAuthInfoInExample: false,
  };
  const converted = await new Promise((resolve, reject) => {
    Converter.convert({ type: 'json', data: document }, options, (error, result) => {
      if (error) reject(error);
      else if (!result.result) reject(new Error(result.reason));
      else resolve(result.output[0].data);
    });
  });
  return withoutIds(converted);
}

const LOGIN_TEST = [
  "pm.test('logged in', () => pm.response.to.have.status(200));",
  "pm.collectionVariables.set('accessToken', pm.response.json().access);",
];

/** Each request checks it was answered with one of its operation's documented statuses, and an
 * error in the API's error format. */
function statusTest(codes) {
  return [
    `const documented = ${JSON.stringify(codes)};`,
    "pm.test('answers a documented status', () => pm.expect(documented).to.include(pm.response.code));",
    'if (pm.response.code >= 400) {',
    "  pm.test('errors in the API\\'s format', () => {",
    '    const { error } = pm.response.json();',
    "    pm.expect(error).to.include.keys('code', 'message', 'detail');",
    '  });',
    '}',
  ];
}

function* requests(items) {
  for (const item of items) {
    if (item.item) yield* requests(item.item);
    else yield item;
  }
}

/** The collection for `document`: converted, then given its login flow and its tests. */
export async function collection(document) {
  const converted = await convert(document);
  const operations = new Map();
  for (const [path, methods] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      operations.set(`${method.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ':$1')}`, operation);
    }
  }
  let login;
  for (const item of requests(converted.item)) {
    const key = `${item.request.method} /${item.request.url.path.join('/')}`;
    const operation = operations.get(key);
    if (!operation) throw new Error(`the converter made a request no operation names: ${key}`);
    const codes = Object.keys(operation.responses).map(Number);
    item.event = [{ listen: 'test', script: { type: 'text/javascript', exec: statusTest(codes) } }];
    if (operation.operationId === 'auth_login') login = item;
  }
  if (!login) throw new Error('the document has no auth_login operation');
  login.request.auth = { type: 'noauth' };
  login.request.body.raw = JSON.stringify({ username: '{{username}}', password: '{{password}}' }, null, 2);
  login.event[0].script.exec = [...LOGIN_TEST, ...login.event[0].script.exec];
  // Login first: every other request uses the token it stores.
  const folder = converted.item.find((f) => f.item?.includes(login));
  folder.item = [login, ...folder.item.filter((i) => i !== login)];
  converted.item = [folder, ...converted.item.filter((f) => f !== folder)];
  converted.auth = { type: 'bearer', bearer: [{ key: 'token', value: '{{accessToken}}', type: 'string' }] };
  converted.variable = [
    { key: 'baseUrl', value: 'http://localhost:8080', type: 'string' },
    { key: 'username', value: 'admin', type: 'string' },
    { key: 'password', value: '', type: 'string' },
    { key: 'accessToken', value: '', type: 'string' },
  ];
  return converted;
}

/** The collection without its example response bodies (faked afresh each run): what must match. */
export function requestsOf(value) {
  return JSON.parse(JSON.stringify(value), (key, inner) => (key === 'response' ? inner.map((r) => r.code) : inner));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const document = openapi();
  writeFileSync(SCHEMA_TYPES, await schemaTypes(document));
  console.log(`wrote ${SCHEMA_TYPES}`);
  const fresh = await collection(document);
  const kept = existsSync(COLLECTION) ? JSON.parse(readFileSync(COLLECTION, 'utf8')) : null;
  if (kept && isDeepStrictEqual(requestsOf(kept), requestsOf(fresh))) {
    console.log(`${COLLECTION}: its requests are current, kept as it is`);
  } else {
    writeFileSync(COLLECTION, `${JSON.stringify(fresh, null, 2)}\n`);
    console.log(`wrote ${COLLECTION}`);
  }
}
