/**
 * The browser sign-in of the local front (local/identity/browserSignIn.ts, localTenant.ts) walked
 * with plain HTTP, cookies carried by hand: /.auth/login/aad → the local tenant's form → its
 * form_post page → /.auth/login/aad/callback.
 */
export interface StartedSignIn {
  /** The Cookie header value that binds the callback to this "browser". */
  loginCookie: string;
  /** The tenant's authorize URL (absolute). */
  authorizeUrl: string;
}

export interface TenantAnswer {
  replyUrl: string;
  idToken: string;
  state: string;
}

/** `name=value` of a Set-Cookie line, or undefined. */
export function setCookie(response: Response, name: string): { pair: string; line: string } | undefined {
  const line = response.headers.getSetCookie().find((l) => l.startsWith(`${name}=`));
  return line ? { pair: line.split(";")[0], line } : undefined;
}

export async function startSignIn(base: string, target = "/api/dashboard"): Promise<StartedSignIn> {
  const response = await fetch(`${base}/.auth/login/aad?post_login_redirect_uri=${encodeURIComponent(target)}`, { redirect: "manual" });
  if (response.status !== 302) throw new Error(`sign-in start: HTTP ${response.status} ${await response.text()}`);
  const login = setCookie(response, "LocalEasyAuthLogin");
  if (!login) throw new Error("sign-in start set no login cookie");
  return { loginCookie: login.pair, authorizeUrl: new URL(response.headers.get("location")!, base).toString() };
}

const field = (html: string, name: string) => {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (!match) throw new Error(`no ${name} in the tenant's page`);
  return match[1].replace(/&#(\d+);/g, (_m, code: string) => String.fromCharCode(Number(code)));
};

/** Submits the tenant's form as `user` with `roles`; returns what its form_post page would post. */
export async function tenantSignIn(started: StartedSignIn, user: string, roles: string[]): Promise<TenantAnswer> {
  const form = await fetch(started.authorizeUrl);
  const formHtml = await form.text();
  if (form.status !== 200) throw new Error(`tenant form: HTTP ${form.status} ${formHtml}`);
  const params = new URLSearchParams(new URL(started.authorizeUrl).search);
  const body = new URLSearchParams(params);
  body.set("user", user);
  for (const role of roles) body.append("role", role);
  const posted = await fetch(started.authorizeUrl.split("?")[0], { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: body.toString() });
  const html = await posted.text();
  if (posted.status !== 200) throw new Error(`tenant sign-in: HTTP ${posted.status} ${html}`);
  const action = /<form method="post" action="([^"]+)"/.exec(html)![1].replace(/&#(\d+);/g, (_m, code: string) => String.fromCharCode(Number(code)));
  return { replyUrl: action, idToken: field(html, "id_token"), state: field(html, "state") };
}

/** Posts the tenant's answer to the callback with the given Cookie header. */
export function callback(answer: TenantAnswer, cookie: string | undefined, overrides: Partial<Pick<TenantAnswer, "idToken" | "state">> = {}): Promise<Response> {
  const body = new URLSearchParams({ id_token: overrides.idToken ?? answer.idToken, state: overrides.state ?? answer.state });
  return fetch(answer.replyUrl, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", ...(cookie ? { cookie } : {}) },
    body: body.toString(),
  });
}

/** The whole sign-in; returns the session cookie (`AppServiceAuthSession=...`) and the callback's answer. */
export async function signIn(base: string, user: string, roles: string[], target = "/api/dashboard"): Promise<{ cookie: string; response: Response }> {
  const started = await startSignIn(base, target);
  const answer = await tenantSignIn(started, user, roles);
  const response = await callback(answer, started.loginCookie);
  const session = setCookie(response, "AppServiceAuthSession");
  if (response.status !== 302 || !session) throw new Error(`callback: HTTP ${response.status} ${await response.text()}`);
  return { cookie: session.pair, response };
}
