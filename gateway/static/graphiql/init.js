// GraphiQL for TracSeq Gateway: everything is served by the gateway itself (no CDN), so the
// page works in an air-gapped lab. Headers (Authorization) are set in the Headers tab; they
// reach subscriptions too (ws.js).
(function () {
  var root = document.getElementById("graphiql");
  var endpoint = root.getAttribute("data-endpoint") || "/graphql";
  var defaultQuery = [
    "# TracSeq Gateway: one graph over the LIMS services.",
    "#",
    "# Log in first (the login mutation below, with a demo account from the README),",
    "# then put {\"Authorization\": \"Bearer <accessToken>\"} in the Headers tab below.",
    "",
    "mutation Login {",
    "  login(input: {email: \"tech@tracseq.lab\", password: \"tech-tracseq\"}) {",
    "    accessToken",
    "    user { email role }",
    "  }",
    "}",
    "",
    "query RecentSamples {",
    "  samples(first: 10) {",
    "    totalCount",
    "    edges {",
    "      node {",
    "        id",
    "        name",
    "        barcode",
    "        status",
    "        template { name status }",
    "      }",
    "    }",
    "    pageInfo { hasNextPage endCursor }",
    "  }",
    "}",
    "",
  ].join("\n");
  // Queries and mutations over HTTP; subscriptions over the WebSocket (ws.js).
  var http = GraphiQL.createFetcher({ url: endpoint });
  var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
  var live = TracSeqWebSocket.createClient(scheme + window.location.host + endpoint);
  var fetcher = function (params, options) {
    if (TracSeqWebSocket.isSubscription(params)) {
      return live.subscribe(params, options && options.headers);
    }
    return http(params, options);
  };
  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      defaultHeaders: "{}",
      headerEditorEnabled: true,
      shouldPersistHeaders: true,
      defaultEditorToolsVisibility: "headers",
    })
  );
})();
