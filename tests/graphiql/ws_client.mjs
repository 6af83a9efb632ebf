// The GraphiQL page's WebSocket client (gateway/static/graphiql/ws.js) run by Node against
// a gateway: `node ws_client.mjs classify` prints which documents it routes to the socket;
// `node ws_client.mjs URL TOKEN SAMPLE_ID` subscribes to the sample's status changes,
// prints each message as a JSON line, and exits after the first event.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const api = require("../../gateway/static/graphiql/ws.js");
const [mode, token, sampleId] = process.argv.slice(2);

if (mode === "classify") {
  const documents = JSON.parse(await new Promise((resolve) => {
    let text = "";
    process.stdin.on("data", (chunk) => (text += chunk));
    process.stdin.on("end", () => resolve(text));
  }));
  console.log(JSON.stringify(documents.map(([query, operationName]) =>
    api.isSubscription({ query, operationName }))));
} else {
  const client = api.createClient(mode);
  const query = "subscription W($ids: [ID!]) { sampleStatusChanged(ids: $ids) { status } }";
  const subscription = client
    .subscribe({ query, variables: { ids: [sampleId] } }, { Authorization: `Bearer ${token}` })
    .subscribe({
      next(value) {
        console.log(JSON.stringify({ next: value }));
        subscription.unsubscribe();
        setTimeout(() => process.exit(0), 100);
      },
      error(error) {
        console.log(JSON.stringify({ error: String(error) }));
        process.exit(1);
      },
      complete() {
        console.log(JSON.stringify({ complete: true }));
      },
    });
  console.log(JSON.stringify({ started: true }));
}
