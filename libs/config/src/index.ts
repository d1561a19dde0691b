export * from './config.js';
export { SETTINGS, type SettingDefinition, type SettingKey } from './settings.js';
