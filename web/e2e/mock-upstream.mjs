// A small Anthropic upstream for the browser tests: POST /v1/messages answers JSON or, with
// "stream": true, Server-Sent Events, each with fixed usage so that the console's token
// counts and costs can be checked against what the relay billed.
import http from 'node:http';

/** Usage of a non-streaming answer. */
export const JSON_USAGE = { input_tokens: 1200, output_tokens: 345, cache_read_input_tokens: 800, cache_creation_input_tokens: 0 };
/** Usage of a streaming answer: input from message_start, output from the last message_delta. */
export const STREAM_USAGE = { input_tokens: 1500, output_tokens: 420, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };

function sse(res, event, data) {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/**
 * Starts the mock on 127.0.0.1 and an ephemeral port; resolves to { url, requests,
 * tokenRequests, close }. It also answers the OAuth token endpoint (`POST /v1/oauth/token`).
 */
export function startMockUpstream() {
  const requests = [];
  const tokenRequests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/oauth/token') {
        // The OAuth token endpoint of the PKCE exchange.
        const grant = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
        tokenRequests.push(grant);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ access_token: 'sk-ant-oat01-mock-access-token-0001', refresh_token: 'sk-ant-ort01-mock-refresh-0001', expires_in: 28800, scope: 'user:inference user:profile', token_type: 'Bearer' }));
        return;
      }
      if (req.method !== 'POST' || !req.url?.startsWith('/v1/messages')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: 'not here' } }));
        return;
      }
      let body = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: 'bad json' } }));
        return;
      }
      requests.push({ headers: req.headers, body });
      const model = body.model ?? 'claude-sonnet-4-5';
      const id = `msg_mock_${requests.length}`;
      if (body.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        sse(res, 'message_start', {
          type: 'message_start',
          message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, usage: { ...STREAM_USAGE, output_tokens: 1 } },
        });
        sse(res, 'content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
        sse(res, 'content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hello from the mock' } });
        sse(res, 'content_block_stop', { type: 'content_block_stop', index: 0 });
        sse(res, 'message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: STREAM_USAGE.output_tokens } });
        sse(res, 'message_stop', { type: 'message_stop' });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id,
          type: 'message',
          role: 'assistant',
          model,
          content: [{ type: 'text', text: 'Hello from the mock' }],
          stop_reason: 'end_turn',
          stop_sequence: null,
          usage: JSON_USAGE,
        }),
      );
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
      resolve({ url: `http://127.0.0.1:${port}`, requests, tokenRequests, close: () => new Promise((r) => server.close(() => r(undefined))) });
    });
  });
}
