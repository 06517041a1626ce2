import { getSecret } from 'wix-secrets-backend';
import { secrets } from '@wix/secrets';
import { SECRET_FROM_ELSEWHERE } from './config';

export async function byName(name) {
  return getSecret(name);
}

export async function perEnvironment(env) {
  return getSecret(`${env}_PAYMENT_KEY`);
}

export async function all(names) {
  return Promise.all(names.map(getSecret));
}

export async function imported() {
  let current = 'changes_later';
  current = current + '_v2';
  const { value } = await secrets.getSecretValue(current);
  return [value, await getSecret(SECRET_FROM_ELSEWHERE)];
}
