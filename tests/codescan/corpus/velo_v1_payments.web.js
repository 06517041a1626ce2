// Velo (v1) web module: charges a card with Stripe.
// The key is read with getSecret("stripe_live_key") below; the old name was getSecret("stripe_key").
import { Permissions, webMethod } from 'wix-web-module';
import { getSecret } from 'wix-secrets-backend';
import { fetch } from 'wix-fetch';

const STRIPE_API = "https://api.stripe.com/v1";

/**
 * Creates a charge.
 * @example
 *   const key = await getSecret('doc_example');
 */
export const createCharge = webMethod(Permissions.Anyone, async (amount, token) => {
  const key = await getSecret("stripe_live_key");
  const body = `amount=${amount}&currency=usd&source=${token}`;
  const response = await fetch(`${STRIPE_API}/charges`, {
    method: 'post',
    headers: { Authorization: "Bearer " + key, "Content-Type": "application/x-www-form-urlencoded" },
    body,
  });
  if (response.status / 100 !== 2) {
    throw new Error('getSecret("not_a_reference") failed? no: the charge failed');
  }
  return response.json();
});

export async function webhookSecret() {
  return getSecret('stripe_webhook_secret');
}
