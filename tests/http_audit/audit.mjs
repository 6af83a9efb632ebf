// Runs the graphql-http audit suite (GraphQL over HTTP) against the URL given as the only
// argument and prints one JSON line per audit: {id, name, status, reason}. Every request
// carries `apollo-require-preflight`, as a browser-safe client of the gateway must (CSRF
// prevention refuses a GET that could be cross-site without it).
import { auditServer } from 'graphql-http';

const url = process.argv[2];
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set('apollo-require-preflight', 'true');
  return fetch(input, { ...init, headers });
};

const results = await auditServer({ url, fetchFn });
for (const result of results) {
  const reason = result.status === 'ok' ? null : result.reason;
  console.log(JSON.stringify({ id: result.id, name: result.name, status: result.status, reason }));
}
