// A dynamic reference: the name depends on the partner, so no tool can know it from the code alone.
// policy.code_dynamic_names in secrets.yaml lists the names it can take.
import { getSecret } from 'wix-secrets-backend';

export async function verify(partner, signature, body) {
  const secret = await getSecret(`${partner.toUpperCase()}_WEBHOOK_SECRET`);
  return signature === (await hmac(secret, body));
}

async function hmac(key, body) {
  const data = new TextEncoder().encode(body);
  const cryptoKey = await crypto.subtle.importKey('raw', new TextEncoder().encode(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.sign('HMAC', cryptoKey, data))));
}
