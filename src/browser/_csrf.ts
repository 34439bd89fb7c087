/**
 * The admin forms' CSRF token: a random value held in a `SameSite=Strict`,
 * `HttpOnly` cookie and repeated in each form; a post whose two values
 * differ is refused.
 *
 * @module
 */

const COOKIE = "sequent_browser_csrf";

/** The token a request holds in its cookie, or a fresh one. */
export function csrfToken(
  cookieHeader: string | undefined,
): { readonly value: string; readonly fresh: boolean } {
  for (const part of (cookieHeader ?? "").split(";")) {
    const [name, ...rest] = part.trim().split("=");
    const value = rest.join("=");
    if (name === COOKIE && /^[A-Za-z0-9_-]{43}$/.test(value)) {
      return { value, fresh: false };
    }
  }
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const value = btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-")
    .replace(/\//g, "_").replace(/=+$/, "");
  return { value, fresh: true };
}

/** The `Set-Cookie` value that keeps a token for the browser's paths. */
export function csrfCookie(value: string, base: string, url: string): string {
  const secure = new URL(url).protocol === "https:" ? "; Secure" : "";
  return `${COOKIE}=${value}; Path=${
    base || "/"
  }; HttpOnly; SameSite=Strict${secure}`;
}

/** Whether two tokens are the same, in time independent of where they differ. */
export function sameToken(a: string, b: string): boolean {
  if (a.length !== b.length || a.length === 0) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
