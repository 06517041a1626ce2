// Wix CLI / SDK (TypeScript): @wix/secrets with @wix/essentials.
import { secrets } from '@wix/secrets';
import { auth } from '@wix/essentials';
import { webMethod, Permissions } from '@wix/web-methods';

enum Secret {
  OpenAi = 'OPENAI_API_KEY',
}

export const ask = webMethod(Permissions.SiteMember, async (question: string): Promise<string> => {
  const { value } = await auth.elevate(secrets.getSecretValue)(Secret.OpenAi);
  const response = await fetch('https://api.openai.com/v1/responses', {
    method: 'POST',
    headers: { Authorization: `Bearer ${value}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', input: question }),
  });
  return (await response.json()).output_text as string;
});
