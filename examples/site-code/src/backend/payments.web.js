// Velo web module (wix-secrets-backend, v1): charges a card with Stripe.
import { Permissions, webMethod } from 'wix-web-module';
import { getSecret } from 'wix-secrets-backend';
import { fetch } from 'wix-fetch';

// Not a reference: getSecret("OLD_STRIPE_KEY") was the name before the rename.
const STRIPE_API = 'https://api.stripe.com/v1';

export const createCharge = webMethod(Permissions.Anyone, async (amount, token) => {
  const key = await getSecret('STRIPE_API_KEY');
  const response = await fetch(`${STRIPE_API}/charges`, {
    method: 'post',
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/x-www-form-urlencoded' },
    body: `amount=${amount}&currency=usd&source=${token}`,
  });
  return response.json();
});
