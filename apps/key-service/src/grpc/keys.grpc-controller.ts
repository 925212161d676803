import type { Metadata } from '@grpc/grpc-js';
import { Controller, UseFilters, UseGuards } from '@nestjs/common';
import { AdminGrpcGuard, grpcCaller } from '@keygate/platform';
import { CreateKeyDto, ListKeysQuery, ReasonDto, RotateKeyDto, UpdateKeyDto } from '../api-keys/api-key.dto';
import { ApiKeysService } from '../api-keys/api-keys.service';
import { KeyServiceRpc } from './key-service-rpc';
import { GrpcExceptionFilter } from './grpc-exception.filter';
import { requireId, validated } from './grpc-validation';
import { KeyAtService } from '../key-history/key-at.service';
import {
  auditMessage,
  createKeyInput,
  keyMessage,
  listKeysInput,
  page,
  updateKeyInput,
  type CreateKeyRequest,
  type ListKeysRequest,
  type UpdateKeyRequest,
} from './key-service.messages';

interface KeyIdRequest {
  key_id?: string;
}

// keygate.keys.v1.KeyService, key RPCs: translate, validate with the REST DTOs, call ApiKeysService.
@Controller()
@UseGuards(AdminGrpcGuard)
@UseFilters(GrpcExceptionFilter)
export class KeysGrpcController {
  constructor(
    private readonly keys: ApiKeysService,
    private readonly history: KeyAtService,
  ) {}

  @KeyServiceRpc('CreateKey', 'write')
  async createKey(req: CreateKeyRequest, metadata: Metadata) {
    const dto = await validated(CreateKeyDto, createKeyInput(req));
    const { key, ...resource } = await this.keys.create(dto, grpcCaller(metadata));
    return { key: keyMessage(resource), secret: key };
  }

  @KeyServiceRpc('ListKeys', 'read')
  async listKeys(req: ListKeysRequest) {
    return page(await this.keys.list(await validated(ListKeysQuery, listKeysInput(req))), keyMessage);
  }

  @KeyServiceRpc('GetKey', 'read')
  async getKey(req: KeyIdRequest & { at?: string }) {
    const keyId = requireId(req.key_id, 'key_id');
    if (req.at) {
      const { asOf, ...key } = await this.history.at(keyId, req.at);
      return { ...keyMessage(key), as_of: { at: asOf.at, event: auditMessage(asOf.event) } };
    }
    return keyMessage(await this.keys.get(keyId));
  }

  @KeyServiceRpc('UpdateKey', 'write')
  async updateKey(req: UpdateKeyRequest, metadata: Metadata) {
    const keyId = requireId(req.key_id, 'key_id');
    const dto = await validated(UpdateKeyDto, updateKeyInput(req));
    return keyMessage(await this.keys.update(keyId, dto, grpcCaller(metadata), req.expected_version));
  }

  @KeyServiceRpc('RotateKey', 'write')
  async rotateKey(req: KeyIdRequest & { grace_period_seconds?: number }, metadata: Metadata) {
    const keyId = requireId(req.key_id, 'key_id');
    const dto = await validated(RotateKeyDto, { gracePeriodSeconds: req.grace_period_seconds });
    const { key, ...resource } = await this.keys.rotate(
      keyId,
      dto.gracePeriodSeconds ?? 0,
      grpcCaller(metadata),
    );
    return { key: keyMessage(resource), secret: key };
  }

  @KeyServiceRpc('RevokeKey', 'write')
  async revokeKey(req: KeyIdRequest & { reason?: string }, metadata: Metadata) {
    const keyId = requireId(req.key_id, 'key_id');
    const { reason } = await validated(ReasonDto, { reason: req.reason });
    return keyMessage(
      await this.keys.revoke(keyId, reason ?? 'revoked by an administrator', grpcCaller(metadata)),
    );
  }

  @KeyServiceRpc('SuspendKey', 'write')
  async suspendKey(req: KeyIdRequest & { reason?: string }, metadata: Metadata) {
    const keyId = requireId(req.key_id, 'key_id');
    const { reason } = await validated(ReasonDto, { reason: req.reason });
    return keyMessage(
      await this.keys.suspend(keyId, reason ?? 'suspended by an administrator', grpcCaller(metadata)),
    );
  }

  @KeyServiceRpc('ReactivateKey', 'write')
  async reactivateKey(req: KeyIdRequest, metadata: Metadata) {
    return keyMessage(await this.keys.reactivate(requireId(req.key_id, 'key_id'), grpcCaller(metadata)));
  }

  @KeyServiceRpc('DeleteKey', 'write')
  async deleteKey(req: KeyIdRequest, metadata: Metadata) {
    await this.keys.remove(requireId(req.key_id, 'key_id'), grpcCaller(metadata));
    return {};
  }

  @KeyServiceRpc('AddKeyToGroup', 'write')
  async addKeyToGroup(req: KeyIdRequest & { group_id?: string }, metadata: Metadata) {
    const keyId = requireId(req.key_id, 'key_id');
    const groupId = requireId(req.group_id, 'group_id');
    return keyMessage(await this.keys.addGroup(keyId, groupId, grpcCaller(metadata)));
  }

  @KeyServiceRpc('RemoveKeyFromGroup', 'write')
  async removeKeyFromGroup(req: KeyIdRequest & { group_id?: string }, metadata: Metadata) {
    const keyId = requireId(req.key_id, 'key_id');
    const groupId = requireId(req.group_id, 'group_id');
    return keyMessage(await this.keys.removeGroup(keyId, groupId, grpcCaller(metadata)));
  }
}
