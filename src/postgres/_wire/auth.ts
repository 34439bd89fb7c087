/**
 * Password authentication: MD5 and SCRAM-SHA-256 (RFC 5802, RFC 7677),
 * the latter as PostgreSQL implements it (no channel binding; the user
 * name in the client-first message is empty, the server takes it from the
 * start-up message).
 *
 * @module
 */
import { createHash } from "node:crypto";

/** The MD5 password message: `md5` + md5(md5(password + user) + salt). */
export function md5Password(
  user: string,
  password: string,
  salt: Uint8Array,
): string {
  const inner = createHash("md5").update(password + user).digest("hex");
  return "md5" +
    createHash("md5").update(inner).update(salt).digest("hex");
}

const encoder = new TextEncoder();

function base64(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}

function unbase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

async function hmac(key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  const k = await crypto.subtle.importKey(
    "raw",
    key as Uint8Array<ArrayBuffer>,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return new Uint8Array(
    await crypto.subtle.sign("HMAC", k, data as Uint8Array<ArrayBuffer>),
  );
}

function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  return a.map((v, i) => v ^ b[i]!);
}

/** Thrown when the server's SCRAM messages are not what the RFC says. */
export class ScramError extends Error {
  /** @param what What was wrong. */
  constructor(what: string) {
    super(`SCRAM-SHA-256 authentication failed: ${what}`);
    this.name = "ScramError";
  }
}

/**
 * One SCRAM-SHA-256 exchange: `first()` gives the client-first message,
 * `final(serverFirst)` the client-final one, and `verify(serverFinal)`
 * checks the server's signature, so a server that does not know the
 * password cannot pass for one that does.
 */
export class ScramClient {
  readonly #password: string;
  readonly #nonce: string;
  #clientFirstBare = "";
  #expectedSignature = "";

  /** @param password The user's password. */
  constructor(password: string) {
    // SASLprep is not applied: PostgreSQL uses the raw bytes when the
    // password is not valid under it, and ASCII passwords are unchanged.
    this.#password = password;
    this.#nonce = base64(crypto.getRandomValues(new Uint8Array(18)));
  }

  /** The client-first message. */
  first(): string {
    this.#clientFirstBare = `n=*,r=${this.#nonce}`;
    return `n,,${this.#clientFirstBare}`;
  }

  /**
   * The client-final message for the server-first message.
   *
   * @param serverFirst The server's `r=…,s=…,i=…`.
   */
  async final(serverFirst: string): Promise<string> {
    const attrs = new Map(
      serverFirst.split(",").map((p) => [p[0], p.slice(2)] as const),
    );
    const nonce = attrs.get("r");
    const salt = attrs.get("s");
    const iterations = Number(attrs.get("i"));
    if (!nonce?.startsWith(this.#nonce) || nonce === this.#nonce) {
      throw new ScramError("the server's nonce does not extend ours");
    }
    if (!salt || !Number.isInteger(iterations) || iterations < 1) {
      throw new ScramError("the server sent no salt or iteration count");
    }
    const key = await crypto.subtle.importKey(
      "raw",
      encoder.encode(this.#password),
      "PBKDF2",
      false,
      ["deriveBits"],
    );
    const salted = new Uint8Array(
      await crypto.subtle.deriveBits(
        {
          name: "PBKDF2",
          hash: "SHA-256",
          salt: unbase64(salt) as Uint8Array<ArrayBuffer>,
          iterations,
        },
        key,
        256,
      ),
    );
    const clientKey = await hmac(salted, encoder.encode("Client Key"));
    const storedKey = new Uint8Array(
      await crypto.subtle.digest(
        "SHA-256",
        clientKey as Uint8Array<ArrayBuffer>,
      ),
    );
    const finalBare = `c=biws,r=${nonce}`;
    const authMessage = encoder.encode(
      `${this.#clientFirstBare},${serverFirst},${finalBare}`,
    );
    const signature = await hmac(storedKey, authMessage);
    const serverKey = await hmac(salted, encoder.encode("Server Key"));
    this.#expectedSignature = base64(await hmac(serverKey, authMessage));
    return `${finalBare},p=${base64(xor(clientKey, signature))}`;
  }

  /**
   * Checks the server-final message.
   *
   * @param serverFinal The server's `v=…`.
   */
  verify(serverFinal: string): void {
    const v = serverFinal.split(",").find((p) => p.startsWith("v="));
    if (v?.slice(2) !== this.#expectedSignature) {
      throw new ScramError("the server's signature does not match");
    }
  }
}
