export * from './backend-messages';
export * from './gateway-request-auth';
