/** The tests' one HTTP client: a request to a server, its status and parsed JSON body. */

export interface HttpAnswer {
  status: number;
  body: any;
  headers: Headers;
  /** How long the answer (or its failure) took. */
  ms: number;
  /** Why there was no answer at all (status 0): the connection was refused, reset or timed out. */
  error?: string;
}

/**
 * fetch with an optional bearer token and JSON body. A request that gets no HTTP answer resolves
 * with status 0 and the reason, so outage tests can assert on it; give `timeoutMs` for a server
 * that may hang.
 */
export async function request(
  server: { url: string } | string,
  method: string,
  path: string,
  opts: {
    token?: string | undefined;
    body?: unknown;
    rawBody?: string | undefined;
    headers?: Record<string, string> | undefined;
    timeoutMs?: number | undefined;
  } = {},
): Promise<HttpAnswer> {
  const url = typeof server === 'string' ? server : server.url;
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined = opts.rawBody;
  if (opts.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.body);
  } else if (body !== undefined) headers['content-type'] ??= 'application/json';
  const started = Date.now();
  let res: Response;
  try {
    res = await fetch(`${url}${path}`, { method, headers, signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000), ...(body !== undefined ? { body } : {}) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return { status: 0, body: undefined, headers: new Headers(), ms: Date.now() - started, error: cause?.code ?? cause?.message ?? String(err) };
  }
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed, headers: res.headers, ms: Date.now() - started };
}
