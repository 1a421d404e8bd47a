import { Module, type DynamicModule } from '@nestjs/common';
import { CodecController } from './codec.controller';
import { CodecServerOptions } from './codec-server-options';

/**
 * The codec server (`/codec/encode`, `/codec/decode`) for the Temporal Web UI, as a module the app imports when a
 * payload codec is configured. Options come from the entry point's validated config.
 */
@Module({})
export class CodecModule {
  static forRoot(options: CodecServerOptions): DynamicModule {
    return {
      module: CodecModule,
      controllers: [CodecController],
      providers: [{ provide: CodecServerOptions, useValue: options }],
    };
  }
}
