// {{name}}: serves the prompt `greeting`, with `name` filled from the request's variables.
import { definePromptSource, notFound, missingVariables, textMessage } from './tianji/sdk.js';

export const promptSource = definePromptSource((id, { variables }) => {
  if (id !== 'greeting') throw notFound(`no prompt '${id}'`);
  if (!variables.name) throw missingVariables(['name']);
  return { messages: [textMessage('system', `Greet ${variables.name} warmly.`)] };
});
