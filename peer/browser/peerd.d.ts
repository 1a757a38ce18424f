// placeholder
export function connect(o?: any): Promise<any>;
