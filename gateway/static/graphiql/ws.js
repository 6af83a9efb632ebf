// Subscriptions for the GraphiQL page: a small client of the graphql-transport-ws protocol
// (what the gateway's /graphql WebSocket speaks), so that the page needs no CDN and no
// bundler. The Authorization header of GraphiQL's Headers tab travels in connection_init;
// a change of it opens a new socket. Node runs this file too (the tests), where it exports
// the same object.
(function (root) {
  "use strict";

  // Whether the operation GraphiQL runs is a subscription: the named one, or the only one.
  // Operations are read at the top level of the document, past comments and strings.
  function isSubscription(params) {
    var text = String((params && params.query) || "")
      .replace(/"""[\s\S]*?"""/g, '""')
      .replace(/"(?:[^"\\\n]|\\.)*"/g, '""')
      .replace(/#[^\n\r]*/g, "");
    var wanted = params && params.operationName;
    var depth = 0; // selection sets
    var parens = 0; // variable definitions, whose default values may hold braces
    var pending = false; // an operation or fragment header read, its selection set next
    var operations = [];
    var word = /[_A-Za-z][_0-9A-Za-z]*/y;
    for (var i = 0; i < text.length; i++) {
      var c = text[i];
      if (c === "(") {
        parens++;
      } else if (c === ")") {
        parens--;
      } else if (parens > 0) {
        continue;
      } else if (c === "{") {
        if (depth === 0 && !pending) operations.push({ type: "query", name: null });
        pending = false;
        depth++;
      } else if (c === "}") {
        depth--;
      } else if (depth === 0 && /[_A-Za-z]/.test(c)) {
        word.lastIndex = i;
        var keyword = word.exec(text)[0];
        i += keyword.length - 1;
        if (keyword === "query" || keyword === "mutation" || keyword === "subscription") {
          var rest = text.slice(i + 1).match(/^\s*([_A-Za-z][_0-9A-Za-z]*)?/);
          operations.push({ type: keyword, name: rest && rest[1] ? rest[1] : null });
          pending = true;
        } else if (keyword === "fragment") {
          pending = true;
        }
      }
    }
    var chosen = operations.filter(function (op) {
      return wanted ? op.name === wanted : true;
    });
    return chosen.length === 1 && chosen[0].type === "subscription";
  }

  function headerOf(headers, name) {
    if (!headers) return null;
    for (var key in headers) {
      if (key.toLowerCase() === name && typeof headers[key] === "string") return headers[key];
    }
    return null;
  }

  function createClient(url) {
    var socket = null;
    var opened = null;
    var authorization = null;
    var nextId = 1;
    var sinks = {};

    function open(wanted) {
      if (opened && wanted === authorization) return opened;
      if (socket) socket.close(1000);
      authorization = wanted;
      opened = new Promise(function (resolve, reject) {
        var ws = new root.WebSocket(url, "graphql-transport-ws");
        socket = ws;
        ws.onopen = function () {
          var payload = wanted ? { authorization: wanted } : {};
          ws.send(JSON.stringify({ type: "connection_init", payload: payload }));
        };
        ws.onmessage = function (event) {
          var message;
          try {
            message = JSON.parse(event.data);
          } catch (e) {
            return;
          }
          var sink = message.id !== undefined ? sinks[message.id] : undefined;
          if (message.type === "connection_ack") {
            resolve(ws);
          } else if (message.type === "ping") {
            ws.send(JSON.stringify({ type: "pong" }));
          } else if (sink && message.type === "next") {
            sink.next(message.payload);
          } else if (sink && message.type === "error") {
            delete sinks[message.id];
            sink.next({ errors: message.payload });
            sink.complete();
          } else if (sink && message.type === "complete") {
            delete sinks[message.id];
            sink.complete();
          }
        };
        ws.onclose = function (event) {
          if (socket === ws) {
            socket = null;
            opened = null;
          }
          var error = new Error(
            "The WebSocket closed: " + event.code + (event.reason ? " " + event.reason : "")
          );
          reject(error);
          Object.keys(sinks).forEach(function (id) {
            if (sinks[id].socket === ws) {
              var sink = sinks[id];
              delete sinks[id];
              sink.error(error);
            }
          });
        };
      });
      return opened;
    }

    // An observable of the operation's results, as GraphiQL's fetcher may return.
    function subscribe(params, headers) {
      return {
        subscribe: function (observer) {
          var id = String(nextId++);
          var sink = {
            socket: null,
            next: function (value) {
              if (observer.next) observer.next(value);
            },
            error: function (error) {
              if (observer.error) observer.error(error);
            },
            complete: function () {
              if (observer.complete) observer.complete();
            },
          };
          sinks[id] = sink;
          open(headerOf(headers, "authorization")).then(
            function (ws) {
              if (sinks[id] !== sink) return;
              sink.socket = ws;
              var payload = {
                query: params.query,
                variables: params.variables,
                operationName: params.operationName,
              };
              ws.send(JSON.stringify({ type: "subscribe", id: id, payload: payload }));
            },
            function (error) {
              if (sinks[id] !== sink) return;
              delete sinks[id];
              sink.error(error);
            }
          );
          return {
            unsubscribe: function () {
              if (sinks[id] !== sink) return;
              delete sinks[id];
              if (sink.socket && sink.socket.readyState === 1) {
                sink.socket.send(JSON.stringify({ type: "complete", id: id }));
              }
            },
          };
        },
      };
    }

    return { subscribe: subscribe };
  }

  var api = { createClient: createClient, isSubscription: isSubscription };
  root.TracSeqWebSocket = api;
  if (typeof module !== "undefined" && module.exports) module.exports = api;
})(typeof window !== "undefined" ? window : globalThis);
