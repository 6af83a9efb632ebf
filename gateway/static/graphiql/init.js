// GraphiQL for TracSeq Gateway: everything is served by the gateway itself (no CDN), so the
// page works in an air-gapped lab. Headers (Authorization) are set in the Headers tab.
(function () {
  var root = document.getElementById("graphiql");
  var endpoint = root.getAttribute("data-endpoint") || "/graphql";
  var defaultQuery = [
    "# TracSeq Gateway: one graph over the LIMS services.",
    "#",
    "# Log in with a demo account from the README, then paste the access token into",
    "# the Headers tab below as {\"Authorization\": \"Bearer <token>\"}.",
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
  var fetcher = GraphiQL.createFetcher({ url: endpoint });
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
